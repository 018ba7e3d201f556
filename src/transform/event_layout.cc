#include "transform/event_layout.h"

#include <cstring>
#include <limits>

namespace sluice {
namespace {

void putU32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void putI64(std::uint8_t* p, std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(u >> (8 * i));
}

// Appends bytes at `at` and writes their (offset, length) pair at `field`.
class Writer {
 public:
  Writer(std::uint8_t* out, std::size_t at) : out_(out), at_(at) {}
  void bytes(std::uint8_t* field, std::optional<std::string_view> b) {
    if (!b) {
      putU32(field, 0);
      putU32(field + 4, kLayoutNull);
      return;
    }
    putU32(field, static_cast<std::uint32_t>(at_));
    putU32(field + 4, static_cast<std::uint32_t>(b->size()));
    if (!b->empty()) std::memcpy(out_ + at_, b->data(), b->size());
    at_ += b->size();
  }

 private:
  std::uint8_t* out_;
  std::size_t at_;
};

}  // namespace

std::optional<std::size_t> layoutSize(const TransformInput& in) {
  std::size_t n = kLayoutFixed + in.headers.size() * kLayoutHeaderEntry + in.topic.size() +
                  (in.key ? in.key->size() : 0) + in.value.size() + in.sink.size();
  for (const auto& [name, value] : in.headers) n += name.size() + (value ? value->size() : 0);
  // Every offset and length is a u32, and kLayoutNull marks null.
  if (n >= kLayoutNull) return std::nullopt;
  return n;
}

void writeLayout(const TransformInput& in, std::uint8_t* out) {
  std::memset(out, 0, kLayoutFixed);
  putI64(out, in.offset);
  putI64(out + 8, in.timestamp_ms);
  putU32(out + 16, static_cast<std::uint32_t>(in.partition));
  putU32(out + 20, static_cast<std::uint32_t>(in.headers.size()));
  const std::size_t headers_at = kLayoutFixed;
  putU32(out + 48, static_cast<std::uint32_t>(headers_at));
  Writer w(out, headers_at + in.headers.size() * kLayoutHeaderEntry);
  w.bytes(out + 24, in.topic);
  w.bytes(out + 32, in.key);
  w.bytes(out + 40, in.value);
  w.bytes(out + 52, in.sink);
  for (std::size_t i = 0; i < in.headers.size(); ++i) {
    std::uint8_t* entry = out + headers_at + i * kLayoutHeaderEntry;
    w.bytes(entry, in.headers[i].first);
    w.bytes(entry + 8, in.headers[i].second);
  }
}

}  // namespace sluice
