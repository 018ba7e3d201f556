#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// What a transform is given: an event's Kafka record (its value possibly already replaced by
// the pipeline transform) and, for a sink's transform, the sink's name. Views: nothing is
// copied until the layout is written into the module's memory.
struct TransformInput {
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = -1;
  std::int32_t partition = 0;
  std::string_view topic;
  std::optional<std::string_view> key;  // nullopt: a null key
  std::string_view value;
  std::string_view sink;  // empty for the pipeline transform
  std::vector<std::pair<std::string_view, std::optional<std::string_view>>> headers;
};

// The event as ABI version 1 lays it out (proto/transform.md): a 64-byte fixed part, the
// header entries, then the bytes. Both functions agree on every offset.
constexpr std::size_t kLayoutFixed = 64;
constexpr std::size_t kLayoutHeaderEntry = 16;
constexpr std::uint32_t kLayoutNull = 0xFFFFFFFFu;

// Bytes needed for `in`, or nullopt if it cannot be laid out (over 4 GiB).
std::optional<std::size_t> layoutSize(const TransformInput& in);
// Writes `in` to `out`, which has layoutSize(in) bytes.
void writeLayout(const TransformInput& in, std::uint8_t* out);

}  // namespace sluice
