#include "delivery/batch_request.h"

#include "validate/bounded_json.h"

namespace sluice {
namespace {

std::size_t decimalDigits(std::int64_t v) {
  std::size_t n = v < 0 ? 2 : 1;
  for (std::uint64_t u = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
       u >= 10; u /= 10) {
    ++n;
  }
  return n;
}

}  // namespace

BatchBody assembleBatch(std::span<const BatchItem> items) {
  BatchBody out;
  std::size_t body_bytes = 2;
  std::size_t key_bytes = 0;
  std::size_t offset_bytes = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    body_bytes += items[i].body.size() + 1;
    key_bytes += keyListGrowth(items[i].key.size(), i == 0);
    offset_bytes += offsetListGrowth(items[i].offset, i == 0);
  }
  out.body.reserve(body_bytes);
  out.keys.reserve(key_bytes);
  out.offsets.reserve(offset_bytes);
  out.body.push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out.body.push_back(',');
      out.keys.append(", ");
      out.offsets.append(", ");
    }
    // A byte-order mark passes validation but would break the array.
    out.body.append(withoutBom(items[i].body));
    out.keys.append(items[i].key);
    out.offsets.append(std::to_string(items[i].offset));
  }
  out.body.push_back(']');
  return out;
}

std::size_t keyListGrowth(std::size_t key_bytes, bool first) {
  return key_bytes + (first ? 0 : 2);
}

std::size_t offsetListGrowth(std::int64_t offset, bool first) {
  return decimalDigits(offset) + (first ? 0 : 2);
}

}  // namespace sluice
