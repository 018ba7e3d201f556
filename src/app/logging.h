#pragma once

#include <string>

namespace sluice {

// Sets the process-wide log level and format: "text" (one readable line per event) or "json"
// (one JSON object per line: time, level, msg). Log lines never carry a payload or a secret:
// callers log coordinates, counts and errors only.
void configureLogging(const std::string& level, const std::string& format);

}  // namespace sluice
