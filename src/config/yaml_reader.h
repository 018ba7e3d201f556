#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sluice::config_detail {

// Walks a YAML tree, recording every problem with its path instead of stopping at the first,
// so one check-config run tells the user everything to fix.
class Reader {
 public:
  explicit Reader(std::vector<std::string>& problems) : problems_(problems) {}

  void problem(const std::string& path, const std::string& what);

  // Reports keys of `node` that are not in `known`.
  void rejectUnknown(const YAML::Node& node, const std::string& path,
                     const std::set<std::string>& known);

  bool isMap(const YAML::Node& node, const std::string& path);

  // A section that may be left out: absent is fine, anything but a mapping is a problem.
  // Reports its unknown keys; returns whether there is a mapping to read.
  bool optionalMap(const YAML::Node& node, const std::string& path,
                   const std::set<std::string>& known);

  void string(const YAML::Node& parent, const std::string& path, const char* key,
              std::string& out, bool required);

  template <class Int>
  void integer(const YAML::Node& parent, const std::string& path, const char* key, Int& out,
               long long min, long long max) {
    const YAML::Node n = parent[key];
    if (!n) return;
    long long v = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) {
      problem(join(path, key), "must be an integer");
      return;
    }
    if (v < min || v > max) {
      problem(join(path, key),
              "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return;
    }
    out = static_cast<Int>(v);
  }

  void millis(const YAML::Node& parent, const std::string& path, const char* key,
              std::chrono::milliseconds& out, long long min, long long max);

  void number(const YAML::Node& parent, const std::string& path, const char* key, double& out,
              double min, double max);

  void boolean(const YAML::Node& parent, const std::string& path, const char* key, bool& out);

  void stringMap(const YAML::Node& parent, const std::string& path, const char* key,
                 std::map<std::string, std::string>& out);

  void statusList(const YAML::Node& parent, const std::string& path, const char* key,
                  std::set<int>& out);

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  std::vector<std::string>& problems_;
};

}  // namespace sluice::config_detail
