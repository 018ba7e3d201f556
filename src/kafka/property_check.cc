#include "kafka/property_check.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace sluice {
namespace {

// Properties naming a file librdkafka opens at start-up (ssl.ca.location may also be
// "probe", which searches the system's usual places).
bool namesAFile(const std::string& key, const std::string& value) {
  if (key == "ssl.ca.location" && value == "probe") return false;
  return key.rfind("ssl.", 0) == 0 && key.size() > 9 &&
         key.compare(key.size() - 9, 9, ".location") == 0;
}

void check(const std::map<std::string, std::string>& properties, const std::string& path,
           std::vector<std::string>& problems) {
  std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> conf(rd_kafka_conf_new(),
                                                                          &rd_kafka_conf_destroy);
  for (const auto& [key, value] : properties) {
    std::array<char, 512> err{};
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err.data(), err.size()) !=
        RD_KAFKA_CONF_OK) {
      problems.push_back(path + "." + key + ": " + err.data());
      continue;
    }
    if (namesAFile(key, value) &&
        (value.find('\n') != std::string::npos || value.find("-----BEGIN") != std::string::npos)) {
      // "ssl.key.location_file" put a key where its path belongs: never echo it.
      problems.push_back(path + "." + key + ": expects a file path, not PEM content "
                         "(ssl.*.pem properties take the content)");
    } else if (namesAFile(key, value)) {
      // ssl.ca.location may also name a directory of hashed certificates.
      std::error_code ec;
      const bool directory = key == "ssl.ca.location" && std::filesystem::is_directory(value, ec);
      std::ifstream in(value);
      if (!directory && (!std::filesystem::is_regular_file(value, ec) || !in)) {
        problems.push_back(path + "." + key + ": cannot read " + value);
      }
    }
  }
}

}  // namespace

std::vector<std::string> checkKafkaProperties(const Config& config) {
  std::vector<std::string> problems;
  check(config.kafka.properties, "kafka.properties", problems);
  check(config.dead_letter.properties, "dead_letter.properties", problems);
  return problems;
}

}  // namespace sluice
