#include "config/yaml_reader.h"

namespace sluice::config_detail {

void Reader::problem(const std::string& path, const std::string& what) {
  problems_.push_back(path + ": " + what);
}

void Reader::rejectUnknown(const YAML::Node& node, const std::string& path,
                           const std::set<std::string>& known) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (!known.contains(key)) problem(join(path, key), "unknown key");
  }
}

bool Reader::isMap(const YAML::Node& node, const std::string& path) {
  if (node.IsMap()) return true;
  problem(path, "must be a mapping");
  return false;
}

bool Reader::optionalMap(const YAML::Node& node, const std::string& path,
                         const std::set<std::string>& known) {
  if (!node || !isMap(node, path)) return false;
  rejectUnknown(node, path, known);
  return true;
}

void Reader::string(const YAML::Node& parent, const std::string& path, const char* key,
                    std::string& out, bool required) {
  const YAML::Node n = parent[key];
  if (!n) {
    if (required) problem(join(path, key), "is required");
    return;
  }
  if (!n.IsScalar()) {
    problem(join(path, key), "must be a string");
    return;
  }
  out = n.as<std::string>();
  if (required && out.empty()) problem(join(path, key), "must not be empty");
}

void Reader::millis(const YAML::Node& parent, const std::string& path, const char* key,
                    std::chrono::milliseconds& out, long long min, long long max) {
  long long v = out.count();
  integer(parent, path, key, v, min, max);
  out = std::chrono::milliseconds(v);
}

void Reader::number(const YAML::Node& parent, const std::string& path, const char* key,
                    double& out, double min, double max) {
  const YAML::Node n = parent[key];
  if (!n) return;
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
    problem(join(path, key), "must be a number");
    return;
  }
  if (v < min || v > max) {
    problem(join(path, key), "must be between " + std::to_string(min) + " and " +
                                 std::to_string(max));
    return;
  }
  out = v;
}

void Reader::boolean(const YAML::Node& parent, const std::string& path, const char* key,
                     bool& out) {
  const YAML::Node n = parent[key];
  if (!n) return;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, out)) {
    problem(join(path, key), "must be true or false");
  }
}

void Reader::stringMap(const YAML::Node& parent, const std::string& path, const char* key,
                       std::map<std::string, std::string>& out) {
  const YAML::Node n = parent[key];
  if (!n) return;
  if (!isMap(n, join(path, key))) return;
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) {
      problem(join(join(path, key), kv.first.as<std::string>()), "must be a string");
      continue;
    }
    out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
}

void Reader::statusList(const YAML::Node& parent, const std::string& path, const char* key,
                        std::set<int>& out) {
  const YAML::Node n = parent[key];
  if (!n) return;
  const std::string p = join(path, key);
  if (!n.IsSequence()) {
    problem(p, "must be a list of HTTP status codes");
    return;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    int v = 0;
    if (!n[i].IsScalar() || !YAML::convert<int>::decode(n[i], v) || v < 100 || v > 599) {
      problem(p + "[" + std::to_string(i) + "]", "must be an HTTP status code (100-599)");
      continue;
    }
    out.insert(v);
  }
}

}  // namespace sluice::config_detail
