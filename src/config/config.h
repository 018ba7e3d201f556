#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "delivery/backoff.h"

namespace sluice {

struct SinkConfig {
  std::string name;
  std::string url;
  std::chrono::milliseconds timeout{5000};
  std::uint32_t max_in_flight = 256;
  bool http2 = false;  // h2c with prior knowledge for http://, ALPN for https://
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
};

enum class KeySource { kCoordinates, kJsonPointer, kHeader };

struct IdempotencyConfig {
  KeySource source = KeySource::kCoordinates;
  std::string json_pointer;  // with kJsonPointer
  std::string header;        // with kHeader
};

struct KafkaConfig {
  std::string brokers;
  std::string group;
  std::vector<std::string> topics;
  std::chrono::milliseconds commit_interval{1000};
  std::chrono::milliseconds drain_budget{10'000};  // in-flight grace for revoked partitions
  std::map<std::string, std::string> properties;   // passed to librdkafka as they are
};

struct Config {
  KafkaConfig kafka;
  std::vector<SinkConfig> sinks;
  std::uint32_t max_in_flight_events = 10'000;
  BackoffSettings retry;
  IdempotencyConfig idempotency;
  std::chrono::milliseconds shutdown_grace{15'000};
  std::chrono::milliseconds stats_interval{0};  // 0: no periodic stats line
  std::string log_level = "info";
};

// Every problem found in a config, each prefixed with its key path, e.g.
// "sinks[1].url: must start with http:// or https://".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

Config loadConfigFile(const std::string& path);  // throws ConfigError
Config parseConfig(const std::string& yaml_text, const std::string& origin);  // throws ConfigError

}  // namespace sluice
