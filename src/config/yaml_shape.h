#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace sluice {

// What every later pass takes for granted, checked first on the whole tree: mapping keys are
// scalars (yaml-cpp throws its own conversion error on `{[a]: 1}`), and the tree is of a sane
// shape. Aliases share nodes, so a few lines of anchors can make a tree that is exponential to
// walk (the visit budget ends that), and yaml-cpp registers an anchor before its collection is
// parsed, so `x: &a [*a]` is a node that contains itself (the ancestor check ends that).
void checkYamlShape(const YAML::Node& root, std::vector<std::string>& problems);

}  // namespace sluice
