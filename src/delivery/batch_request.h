#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice {

// One event's part of a batch request.
struct BatchItem {
  std::string_view body;  // a validated JSON text (a leading BOM is left out)
  std::string_view key;   // its Idempotency-Key, an sf-string
  std::int64_t offset = 0;
};

// What a batch request carries beyond the common headers (proto/sink.openapi.yaml): a JSON
// array of the event bodies in order, and the matching lists for the Sluice-Idempotency-Keys
// and Sluice-Source-Offsets headers (RFC 8941 lists: ", " between members).
struct BatchBody {
  std::string body;
  std::string keys;
  std::string offsets;
};

BatchBody assembleBatch(std::span<const BatchItem> items);

// What adding an event of `key_bytes` and `offset` grows the two header lines by. A batch stops
// growing before either line passes the dispatcher's limit: common servers refuse header
// lines over 8 KiB, and a refused batch falls back to single events.
std::size_t keyListGrowth(std::size_t key_bytes, bool first);
std::size_t offsetListGrowth(std::int64_t offset, bool first);

}  // namespace sluice
