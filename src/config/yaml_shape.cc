#include "config/yaml_shape.h"

namespace sluice {
namespace {

class ShapeCheck {
 public:
  explicit ShapeCheck(std::vector<std::string>& problems) : problems_(problems) {}

  void walk(const YAML::Node& node, const std::string& path) {
    if (budget_ == 0) return;
    if (--budget_ == 0) {
      problem(path, "too many nodes (aliases expanding without end?)");
      return;
    }
    if (!node.IsSequence() && !node.IsMap()) return;
    for (const YAML::Node& a : ancestors_) {
      if (a.is(node)) {
        problem(path, "refers to itself (an alias inside its own anchor)");
        return;
      }
    }
    if (ancestors_.size() >= kMaxDepth) {
      problem(path, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
      return;
    }
    ancestors_.push_back(node);
    if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size() && budget_ > 0; ++i) {
        walk(node[i], path + "[" + std::to_string(i) + "]");
      }
    } else {
      std::size_t index = 0;
      for (const auto& kv : node) {
        if (budget_ == 0) break;
        if (!kv.first.IsScalar()) {
          problem(path, "key #" + std::to_string(index + 1) + " at line " +
                            std::to_string(kv.first.Mark().line + 1) +
                            " is not a plain name (a list or mapping used as a key)");
        } else {
          walk(kv.second, path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar());
        }
        ++index;
      }
    }
    ancestors_.pop_back();
  }

 private:
  // Far more than any real config has (the chart's largest rendering has a few hundred nodes
  // and five levels).
  static constexpr std::size_t kMaxNodes = 100'000;
  static constexpr std::size_t kMaxDepth = 64;

  void problem(const std::string& path, const std::string& what) {
    problems_.push_back((path.empty() ? std::string("the file") : path) + ": " + what);
  }

  std::vector<std::string>& problems_;
  std::size_t budget_ = kMaxNodes;
  std::vector<YAML::Node> ancestors_;
};

}  // namespace

void checkYamlShape(const YAML::Node& root, std::vector<std::string>& problems) {
  ShapeCheck(problems).walk(root, "");
}

}  // namespace sluice
