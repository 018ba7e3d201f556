#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

namespace sluice::config_detail {

// Expands variables in every scalar and turns every "KEY_file: PATH" into "KEY: <file
// content>", so secrets can come from the environment or from mounted files (Kubernetes
// Secrets) instead of the config itself. Relative paths are relative to `base`, the config
// file's folder.
void resolveValues(YAML::Node node, const std::string& path, const std::filesystem::path& base,
                   std::vector<std::string>& problems);

}  // namespace sluice::config_detail
