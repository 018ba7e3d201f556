#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace sluice {

// The longest key a record may supply (header or JSON pointer), in raw bytes. Keys are sent in
// a header line, kept per event in flight, and listed in batch requests; a longer one falls
// back to the record's coordinates like a missing one.
inline constexpr std::size_t kMaxSuppliedKeyBytes = 256;

// Serializes `raw` as an RFC 8941 sf-string (the form the IETF httpapi Idempotency-Key draft
// requires). sf-strings carry only printable ASCII; any other byte, and '%' itself, is
// percent-encoded first so that distinct raw keys always stay distinct.
std::string toSfString(std::string_view raw);

// The default key: unique per Kafka record and identical on every redelivery of it.
std::string coordinatesKey(std::string_view topic, std::int32_t partition, std::int64_t offset);

// The string at RFC 6901 `pointer` inside the JSON `document` (numbers are rendered in their
// JSON form). nullopt when the document does not parse (strictly, as the validator reads it,
// nesting up to 10,000 levels) or the pointer does not resolve to a string or number.
std::optional<std::string> jsonPointerKey(std::string_view document, const std::string& pointer);

struct KeyDerivation {
  std::string key;         // sf-string, identical on every redelivery of the record
  bool fell_back = false;  // the configured source was missing or too long: coordinates used
};

// The Idempotency-Key of one record. `header_value`: the configured header's last value, if
// the record has it (only read with KeySource::kHeader).
KeyDerivation deriveIdempotencyKey(const IdempotencyConfig& config, std::string_view body,
                                   std::optional<std::string_view> header_value,
                                   std::string_view topic, std::int32_t partition,
                                   std::int64_t offset);

}  // namespace sluice
