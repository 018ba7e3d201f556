#include "config/resolve_values.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "config/file_checks.h"
#include "config/variables.h"
#include "config/yaml_reader.h"

namespace sluice::config_detail {
namespace {

std::optional<std::string> readSecretFile(const std::filesystem::path& file,
                                          const std::string& path,
                                          std::vector<std::string>& problems) {
  std::ifstream in(file);
  if (!in) {
    problems.push_back(path + ": cannot read " + file.string());
    return std::nullopt;
  }
  std::stringstream s;
  s << in.rdbuf();
  std::string value = s.str();
  // Files written by editors and `echo` end in a newline that is not part of the secret.
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return value;
}

}  // namespace

void resolveValues(YAML::Node node, const std::string& path, const std::filesystem::path& base,
                   std::vector<std::string>& problems) {
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      YAML::Node item = node[i];
      const std::string p = path + "[" + std::to_string(i) + "]";
      if (item.IsScalar()) {
        item = expandVariables(item.Scalar(), p, problems, environmentVariable);
      } else {
        resolveValues(item, p, base, problems);
      }
    }
    return;
  }
  if (!node.IsMap()) return;
  constexpr std::string_view kSuffix = "_file";
  std::vector<std::pair<std::string, std::string>> from_files;  // key, file path
  for (auto kv : node) {
    const std::string key = kv.first.as<std::string>();
    YAML::Node value = kv.second;
    if (value.IsScalar()) {
      value = expandVariables(value.Scalar(), Reader::join(path, key), problems,
                              environmentVariable);
      if (key.size() > kSuffix.size() && key.ends_with(kSuffix)) {
        from_files.emplace_back(key, value.Scalar());
      }
    } else {
      resolveValues(value, Reader::join(path, key), base, problems);
    }
  }
  for (const auto& [key, file] : from_files) {
    const std::string target = key.substr(0, key.size() - kSuffix.size());
    if (node[target]) {
      problems.push_back(Reader::join(path, key) + ": both " + target + " and " + key +
                         " are set");
      continue;
    }
    if (auto secret = readSecretFile(configRelative(file, base), Reader::join(path, key),
                                     problems)) {
      node.remove(key);
      node[target] = *secret;
    }
  }
}

}  // namespace sluice::config_detail
