// Logs: JSON lines when asked, and never a secret that came in through the environment, in
// the log or in the metrics.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <stdlib.h>

#include <sstream>

#include "http_probe.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST(Logging, JsonLinesWithoutTheSecretFromTheEnvironment) {
  const std::string secret = "sk-live-5f2b9c1e7d3a";
  ::setenv("SLUICE_IT_TOKEN", secret.c_str(), 1);
  Pipeline pl("logs", 2);
  // Failures and retries make sluice log about the sink whose requests carry the secret.
  pl.startSink("a", {"--fail-share", "0.5", "--retry-after", "0", "--seed", "1"});
  ConfigOptions options;
  options.sink_extra["a"] = "    headers: {Authorization: \"Bearer ${SLUICE_IT_TOKEN}\"}\n";
  const int port = freePort();
  options.extra = "log_level: debug\nlog_format: json\nmetrics: {listen: \"127.0.0.1:" +
                  std::to_string(port) + "\"}\n";
  pl.startSluice(pl.writeConfig(options));
  pl.produce(200);
  const auto end = pl.end();
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 60s)) << pl.sluiceLog(0);
  const HttpAnswer metrics = request(port, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("sluice_delivery_retries_total{sink=\"a\"}"), std::string::npos);
  EXPECT_EQ(metrics.body.find(secret), std::string::npos) << "the secret leaked into /metrics";
  pl.sluice(0).signal(SIGTERM);
  ASSERT_TRUE(pl.sluice(0).wait(30s).has_value());
  ::unsetenv("SLUICE_IT_TOKEN");

  const std::string log = pl.sluiceLog(0);
  EXPECT_EQ(log.find(secret), std::string::npos) << "the secret leaked into the log";
  std::istringstream lines(log);
  std::string line;
  int parsed = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << "not a JSON line: " << line;
    ASSERT_TRUE(d.IsObject() && d.HasMember("time") && d.HasMember("level") && d.HasMember("msg"))
        << line;
    ++parsed;
  }
  EXPECT_GT(parsed, 5);
}

}  // namespace
}  // namespace sluice::testing
