#include "config/variables.h"

#include <cstdlib>
#include <optional>

namespace sluice {

const char* environmentVariable(const std::string& name) { return std::getenv(name.c_str()); }

std::string expandVariables(const std::string& in, const std::string& path,
                            std::vector<std::string>& problems, const VariableLookup& lookup) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out.push_back(in[i]);
      continue;
    }
    if (in[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (in[i + 1] != '{') {
      out.push_back(in[i]);
      continue;
    }
    const std::size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      problems.push_back(path + ": unterminated ${ in \"" + in + "\"");
      return in;
    }
    std::string name = in.substr(i + 2, close - i - 2);
    std::optional<std::string> fallback;
    if (const auto dash = name.find(":-"); dash != std::string::npos) {
      fallback = name.substr(dash + 2);
      name.resize(dash);
    }
    const char* value = lookup(name);
    if (value != nullptr && (*value != '\0' || !fallback)) {
      out += value;
    } else if (fallback) {
      out += *fallback;
    } else {
      problems.push_back(path + ": environment variable " + name + " is not set");
    }
    i = close;
  }
  return out;
}

}  // namespace sluice
