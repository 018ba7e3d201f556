#include "config/load_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "config/resolve_values.h"
#include "config/section_readers.h"
#include "config/yaml_reader.h"
#include "config/yaml_shape.h"

namespace sluice {
namespace config_detail {
namespace {

std::string joinProblems(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p;
  }
  return out;
}

[[noreturn]] void throwWithOrigin(std::vector<std::string> problems, const std::string& origin) {
  for (auto& p : problems) p = origin + ": " + p;
  throw ConfigError(std::move(problems));
}

Config parseTree(YAML::Node root, const std::string& origin) {
  std::vector<std::string> problems;
  Reader r(problems);
  Config c;
  const std::filesystem::path base = std::filesystem::path(origin).parent_path();
  resolveValues(root, "", base, problems);
  r.rejectUnknown(root, "", {"kafka", "sinks", "delivery", "dead_letter", "validation",
                             "shutdown_grace_ms", "stats_interval_ms", "log_level", "log_format",
                             "metrics", "transform"});
  readKafka(r, root["kafka"], c);
  readDelivery(r, root["delivery"], c);  // before the sinks: it holds their retry default
  readDeadLetter(r, root["dead_letter"], c.dead_letter);
  readValidation(r, root["validation"], c.validation, base);
  readMetrics(r, root["metrics"], c.metrics);
  readTransform(r, root["transform"], "transform", c.transform, base);
  readSinks(r, root["sinks"], c, base);
  readProcessSettings(r, root, c);
  if (std::any_of(c.sinks.begin(), c.sinks.end(),
                  [](const SinkConfig& s) { return s.batch_max_events > 1; })) {
    c.kafka.prefetch_kbytes = 16384;
    c.kafka.prefetch_messages = 100000;
  }
  if (!problems.empty()) throwWithOrigin(std::move(problems), origin);
  return c;
}

}  // namespace
}  // namespace config_detail

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(config_detail::joinProblems(problems)), problems_(std::move(problems)) {}

Config parseConfig(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError({origin + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": " + e.msg});
  }
  if (!root.IsMap()) throw ConfigError({origin + ": the top level must be a mapping"});
  std::vector<std::string> problems;
  checkYamlShape(root, problems);
  if (!problems.empty()) config_detail::throwWithOrigin(std::move(problems), origin);
  try {
    return config_detail::parseTree(root, origin);
  } catch (const YAML::Exception& e) {
    // A YAML shape the readers did not foresee: still a config problem, never a crash.
    throw ConfigError({origin + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

Config loadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError({path + ": cannot open the config file"});
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

}  // namespace sluice
