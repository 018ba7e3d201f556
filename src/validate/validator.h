#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace sluice {

// Why an event cannot be delivered as it is; it goes to the dead-letter topic with this.
struct Invalid {
  const char* reason;  // "too_large", "invalid_json" or "schema_mismatch"
  std::string detail;  // for people: what is wrong
  std::string where;   // JSON pointer into the event (schema) or byte offset (parse error)
};

// Checks every event before it is fanned out: size, JSON syntax (strict: valid UTF-8, nothing
// after the value, nesting bounded by max_depth), and the JSON Schema (draft-04, what
// RapidJSON validates), compiled once at start-up.
class Validator {
 public:
  explicit Validator(const ValidationConfig& config);  // throws at start-up (bad schema)
  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  std::optional<Invalid> check(std::string_view body) const;

 private:
  std::optional<Invalid> checkJson(std::string_view body) const;

  struct Schema;
  struct Scratch;
  ValidationConfig config_;
  std::unique_ptr<Schema> schema_;
  std::unique_ptr<Scratch> scratch_;  // per-event parse memory, reused: no malloc per event
};

// The schema built in from proto/event.schema.json.
std::string_view defaultEventSchema();

}  // namespace sluice
