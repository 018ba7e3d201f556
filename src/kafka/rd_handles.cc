#include "kafka/rd_handles.h"

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

}  // namespace sluice
