#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// Serializes `raw` as an RFC 8941 sf-string (the form the IETF httpapi Idempotency-Key draft
// requires). sf-strings carry only printable ASCII; any other byte, and '%' itself, is
// percent-encoded first so that distinct raw keys always stay distinct.
std::string toSfString(std::string_view raw);

// The default key: unique per Kafka record and identical on every redelivery of it.
std::string coordinatesKey(std::string_view topic, std::int32_t partition, std::int64_t offset);

// The string at RFC 6901 `pointer` inside the JSON `document` (numbers are rendered in their
// JSON form). nullopt when the document does not parse or the pointer does not resolve to a
// string or number.
std::optional<std::string> jsonPointerKey(std::string_view document, const std::string& pointer);

}  // namespace sluice
