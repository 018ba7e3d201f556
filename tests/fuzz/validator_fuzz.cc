// Event validation, the first code a Kafka record meets: a record is hostile input, and a crash
// on one is a crash on every group member that reads it next. Properties:
// - the schema validator accepts nothing the plain JSON check refuses;
// - an accepted event, its BOM dropped and wrapped as "[" + body + "]", is one strict JSON
//   array of one element over its whole length (valid UTF-8, no NUL, nothing after it): that
//   is what a batch request sends;
// - a refusal for invalid JSON points at a byte inside the event.
#include <charconv>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "fuzz_support.h"
#include "validate/validator.h"

namespace {

sluice::ValidationConfig withSchema(const char* schema) {
  sluice::ValidationConfig c;
  c.schema = schema;
  return c;
}

void checkRefusal(const sluice::Invalid& why, std::string_view body) {
  const std::string_view reason = why.reason;
  if (reason == "too_large") {
    SLUICE_FUZZ_CHECK(body.size() > sluice::ValidationConfig{}.max_bytes, body);
    return;
  }
  SLUICE_FUZZ_CHECK(reason == "invalid_json" || reason == "schema_mismatch", body);
  if (reason != "invalid_json") return;
  const std::string_view where = why.where;
  SLUICE_FUZZ_CHECK(where.starts_with("byte "), why.where);
  std::size_t at = 0;
  const auto [end, ec] = std::from_chars(where.data() + 5, where.data() + where.size(), at);
  SLUICE_FUZZ_CHECK(ec == std::errc() && end == where.data() + where.size(), why.where);
  SLUICE_FUZZ_CHECK(at <= body.size(), why.where);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sluice::Validator with_default_schema(withSchema("default"));
  static const sluice::Validator json_only(withSchema("none"));
  const std::string_view body = sluice::fuzz::asText(data, size);

  const auto by_schema = with_default_schema.check(body);
  const auto by_json = json_only.check(body);
  if (by_schema) checkRefusal(*by_schema, body);
  if (by_json) {
    checkRefusal(*by_json, body);
    SLUICE_FUZZ_CHECK(by_schema.has_value(), body);  // the schema accepted invalid JSON
    SLUICE_FUZZ_CHECK(std::string_view(by_json->reason) != "schema_mismatch", body);
    return 0;
  }

  std::string_view json = body;
  if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
  std::string wrapped;
  wrapped.reserve(json.size() + 2);
  wrapped.push_back('[');
  wrapped.append(json);
  wrapped.push_back(']');
  const auto elements = sluice::fuzz::strictJsonArrayElements(wrapped);
  SLUICE_FUZZ_CHECK(elements.has_value(), body);  // accepted, yet not strict JSON
  SLUICE_FUZZ_CHECK(*elements == 1, body);         // accepted more than one value
  return 0;
}
