#include "kafka/rd_handles.h"

#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>

namespace sluice {

void setConf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
             const char* what) {
  std::array<char, 512> err{};
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err.data(), err.size()) !=
      RD_KAFKA_CONF_OK) {
    throw std::runtime_error(std::string(what) + " property " + key + ": " + err.data());
  }
}

void copySecurityProperties(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& from,
                            const char* what) {
  for (const auto& [key, value] : from) {
    if (key.rfind("security.", 0) == 0 || key.rfind("sasl.", 0) == 0 ||
        key.rfind("ssl.", 0) == 0) {
      setConf(conf, key, value, what);
    }
  }
}

void logToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  // librdkafka uses syslog levels.
  const auto lvl = level <= 3   ? spdlog::level::err
                   : level <= 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info
                                : spdlog::level::debug;
  spdlog::log(lvl, "librdkafka {} {}: {}", rd_kafka_name(rk), facility, message);
}

}  // namespace sluice
