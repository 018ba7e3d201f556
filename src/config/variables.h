#pragma once

#include <functional>
#include <string>
#include <vector>

namespace sluice {

// A variable's value, or nullptr when it is not set.
using VariableLookup = std::function<const char*(const std::string& name)>;

// The process environment.
const char* environmentVariable(const std::string& name);

// ${NAME} and ${NAME:-default} in one scalar of the config; "$$" is a literal "$". Applied to
// parsed scalars, not to the file's text, so a value can never inject YAML. An unterminated
// "${" or an unset variable without a default is a problem, reported with `path`.
std::string expandVariables(const std::string& in, const std::string& path,
                            std::vector<std::string>& problems, const VariableLookup& lookup);

}  // namespace sluice
