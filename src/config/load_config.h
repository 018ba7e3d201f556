#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"

namespace sluice {

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
