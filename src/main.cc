// sluice: consume Kafka topics as a consumer group and deliver every event to every HTTP sink,
// committing an offset only once all sinks accepted it.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>

#include "app/app.h"
#include "app/signals.h"
#include "transform/transform_loader.h"
#include "app/logging.h"
#include "app/malloc_arenas.h"
#include "config/load_config.h"
#include "http/curl_handles.h"
#include "kafka/property_check.h"
#include "validate/validator.h"

namespace {

// One scheme for every way sluice ends (also in --help and the README).
constexpr int kExitOk = 0;       // stopped cleanly, or the config is fine
constexpr int kExitFatal = 1;    // could not start, or a fatal runtime error
constexpr int kExitConfig = 2;   // bad usage or a bad config
// 128 + N: a second SIGTERM/SIGINT (N) during the drain ended it at once.

constexpr const char* kExitCodesHelp =
    "Exit codes: 0 stopped cleanly (or check-config found no problem); 1 could not start or a "
    "fatal runtime error; 2 bad usage or bad config; 128+N a second signal N ended the drain.";

// Every in-flight HTTP/1.1 request holds a socket; three sinks at their default windows need
// more descriptors than the usual soft limit of 1024.
void raiseFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    const rlim_t wanted = lim.rlim_max;
    lim.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      spdlog::warn("could not raise the open-file limit to {}", wanted);
    }
  }
}

// The config file's own problems, then what librdkafka would refuse at start-up, then the
// event schema (compiled here, so a broken schema is a config error and not a failed start);
// nullopt after printing every problem.
std::optional<sluice::Config> loadChecked(const std::string& path) {
  try {
    sluice::Config c = sluice::loadConfigFile(path);
    for (const auto& w : c.warnings) std::cerr << path << ": warning: " << w << '\n';
    const auto kafka_problems = sluice::checkKafkaProperties(c);
    for (const auto& p : kafka_problems) std::cerr << path << ": " << p << '\n';
    try {
      sluice::Validator schema_check(c.validation);
    } catch (const std::exception& e) {
      std::cerr << path << ": " << e.what() << '\n';
      return std::nullopt;
    }
    if (kafka_problems.empty()) return c;
  } catch (const sluice::ConfigError& e) {
    for (const auto& p : e.problems()) std::cerr << p << '\n';
  }
  return std::nullopt;
}

// Compiles and checks every transform module: problems are printed as config problems.
bool transformsLoad(const std::string& path, const sluice::Config& c,
                    sluice::LoadedTransforms& out) {
  const auto problems = sluice::loadTransforms(c, out);
  for (const auto& p : problems) std::cerr << path << ": " << p << '\n';
  return problems.empty();
}

int checkConfig(const std::string& path) {
  const auto c = loadChecked(path);
  if (!c) return kExitConfig;
  sluice::LoadedTransforms transforms;
  if (!transformsLoad(path, *c, transforms)) return kExitConfig;
  std::cout << path << ": ok (" << c->sinks.size() << " sinks, " << c->kafka.topics.size()
            << " topics)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "sluice: reads Kafka topics as a consumer group and delivers every event over HTTP to "
      "every configured sink, committing offsets only once all sinks accepted them."};
  cli.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  std::string config_path;
  int stats_seconds = -1;
  std::string log_level;
  cli.footer(kExitCodesHelp);
  cli.add_option("-c,--config", config_path, "YAML config file (see deploy/sluice.yaml)")
      ->check(CLI::ExistingFile);
  cli.add_option("--stats", stats_seconds,
                 "Log throughput every N seconds (overrides stats_interval_ms; 0 = off)")
      ->check(CLI::Range(0, 3600));
  cli.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  std::string log_format;
  cli.add_option("--log-format", log_format, "text or json (one JSON object per line)")
      ->check(CLI::IsMember({"text", "json"}));

  std::string check_path;
  CLI::App* check = cli.add_subcommand("check-config", "Validate a config file and exit");
  check->add_option("file", check_path, "YAML config file")->required();

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105 for a missing file, ...) are not ours: --help and --version
    // succeed, everything else is bad usage.
    return cli.exit(e) == 0 ? kExitOk : kExitConfig;
  }

  if (check->parsed()) return checkConfig(check_path);
  if (config_path.empty()) {
    std::cerr << "sluice: --config FILE is required (see --help)\n";
    return kExitConfig;
  }

  auto loaded = loadChecked(config_path);
  if (!loaded) return kExitConfig;
  sluice::Config config = std::move(*loaded);
  if (stats_seconds >= 0) config.stats_interval = std::chrono::seconds(stats_seconds);
  if (!log_level.empty()) config.log_level = log_level;
  if (!log_format.empty()) config.log_format = log_format;
  sluice::configureLogging(config.log_level, config.log_format);
  sluice::limitMallocArenas(config);

  // Before the first thread (the transforms' engine starts some): a termination signal must
  // reach only the event loop's signalfd, never a thread that would die of it.
  sluice::blockTerminationSignals();
  sluice::LoadedTransforms transforms;
  if (!transformsLoad(config_path, config, transforms)) return kExitConfig;
  raiseFileLimit();
  try {
    sluice::CurlGlobal curl;
    sluice::App app(std::move(config), std::move(transforms));
    return app.run();
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return kExitFatal;
  }
}
