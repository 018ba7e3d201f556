// One exit-code scheme for every way sluice ends: 0 clean, 1 could not start or fatal at run
// time, 2 bad usage or config, 128+N a second signal (shutdown_test covers that one).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>

#include "pipeline.h"
#include "util/unique_fd.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

class ExitCodes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("sluice-exit-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  CommandResult run(const std::vector<std::string>& args) const { return runSluice(args, dir_); }

  std::string dir_;
};

constexpr const char* kGood = R"(
kafka: {brokers: "127.0.0.1:1", group: g, topics: [t]}
sinks: [{name: a, url: "http://127.0.0.1:1/"}]
)";

TEST_F(ExitCodes, HelpAndVersionSucceedAndHelpListsTheCodes) {
  const auto help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_NE(help.output.find("Exit codes"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("128+N"), std::string::npos) << help.output;
  const auto version = run({"--version"});
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_NE(version.output.find("sluice "), std::string::npos);
}

TEST_F(ExitCodes, BadUsageIsTwo) {
  // Was 105, CLI11's own code for a file that does not exist.
  const auto missing = run({"--config", dir_ + "/missing.yaml"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("missing.yaml"), std::string::npos) << missing.output;
  EXPECT_EQ(run({"--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(run({}).exit_code, 2);
  EXPECT_EQ(run({"--stats", "lots", "--config", write("ok.yaml", kGood)}).exit_code, 2);
  EXPECT_EQ(run({"check-config"}).exit_code, 2);
}

TEST_F(ExitCodes, BadConfigIsTwoWithAMessageNeverACrash) {
  EXPECT_EQ(run({"check-config", write("ok.yaml", kGood)}).exit_code, 0);
  for (const std::string& text : {
           std::string("kafka: {[a]: 1}\n"),                         // non-scalar key
           std::string("kafka: [unclosed\n"),                         // YAML syntax
           std::string(50'000, '['),                                  // deep nesting
           std::string(kGood) + "validation: {max_depth: 0}\n",       // out of range
       }) {
    const std::string path = write("bad.yaml", text);
    for (const auto& args : {std::vector<std::string>{"check-config", path},
                             std::vector<std::string>{"--config", path}}) {
      const auto r = run(args);
      EXPECT_FALSE(r.signal.has_value()) << "signal " << r.signal.value_or(0) << ": " << r.output;
      EXPECT_EQ(r.exit_code, 2) << text.substr(0, 40) << ": " << r.output;
      EXPECT_NE(r.output.find("bad.yaml"), std::string::npos) << r.output;
    }
  }
  // A schema that is not JSON is a config problem too, found by check-config.
  const std::string schema = write("schema.json", "{not json");
  const auto r = run({"check-config", write("schema.yaml", std::string(kGood) +
                                                               "validation: {schema: " + schema +
                                                               "}\n")});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not JSON"), std::string::npos) << r.output;
}

TEST_F(ExitCodes, CouldNotStartIsOne) {
  // The metrics port is taken: a fine config, but sluice cannot start.
  UniqueFd taken(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_TRUE(taken);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(taken.get(), 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string config =
      std::string(kGood) + "metrics: {listen: \"127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
      "\"}\n";
  const auto r = run({"--config", write("busy.yaml", config)});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot start"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice::testing
