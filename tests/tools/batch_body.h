#pragma once

// Splitting a sluice batch request for the recording sink: the JSON array body into its
// elements, and the Sluice-Idempotency-Keys / Sluice-Source-Offsets sf-lists into items.
#include <optional>
#include <string_view>
#include <vector>

namespace sluice::tools {

// The top-level elements of a JSON array, verbatim (surrounding whitespace trimmed);
// nullopt when `body` is not an array or its brackets and strings do not balance.
std::optional<std::vector<std::string_view>> splitJsonArray(std::string_view body);

// The members of an RFC 8941 list of bare items (sf-strings keep their quotes); nullopt on
// an unterminated string or an empty member.
std::optional<std::vector<std::string_view>> splitSfList(std::string_view list);

}  // namespace sluice::tools
