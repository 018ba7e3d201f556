// The status server's request-head parser: /metrics, /healthz and /readyz listen on the pod
// network, so anyone who can reach the pod can send it bytes. The input is what one connection
// has delivered so far. Properties (src/http/status_request.h promises them):
// - total and pure: one of the four answers, no allocation, method and path inside the input
//   and empty unless the head is complete; a complete head ends with its blank line;
// - streaming-consistent: bytes arriving in pieces give the same answer as all at once. Every
//   prefix of a complete head is incomplete, a prefix of an incomplete head is incomplete, and
//   once the answer is final (complete, malformed, too large) more bytes do not change it;
// - it reads nothing past kMaxStatusRequestHead bytes.
// Prefixes are copied into buffers of their own size, so ASan sees any read past their end.
#include <sanitizer/allocator_interface.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz_support.h"
#include "http/status_request.h"

namespace {

using sluice::StatusRequest;
using Head = StatusRequest::Head;

thread_local std::size_t g_allocations = 0;
void onMalloc(const volatile void*, std::size_t) { ++g_allocations; }
void onFree(const volatile void*) {}

StatusRequest parseCounted(std::string_view received) {
  const std::size_t before = g_allocations;
  const StatusRequest r = sluice::parseStatusRequest(received);
  SLUICE_FUZZ_CHECK(g_allocations == before, received);  // it allocated
  return r;
}

// The first `n` bytes, in a buffer of exactly `n` bytes.
struct Prefix {
  explicit Prefix(std::string_view all, std::size_t n) : bytes(new char[n == 0 ? 1 : n]), size(n) {
    if (n > 0) std::memcpy(bytes.get(), all.data(), n);
  }
  std::string_view view() const { return {bytes.get(), size}; }
  std::unique_ptr<char[]> bytes;
  std::size_t size;
};

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool same(const StatusRequest& a, const StatusRequest& b) {
  return a.head == b.head && a.method == b.method && a.path == b.path &&
         a.head_size == b.head_size;
}

void checkShape(const StatusRequest& r, std::string_view received) {
  SLUICE_FUZZ_CHECK(r.head == Head::kIncomplete || r.head == Head::kComplete ||
                        r.head == Head::kTooLarge || r.head == Head::kMalformed,
                    received);
  SLUICE_FUZZ_CHECK(inside(r.method, received) && inside(r.path, received), received);
  if (r.head != Head::kComplete) {
    SLUICE_FUZZ_CHECK(r.method.empty() && r.path.empty() && r.head_size == 0, received);
    if (r.head == Head::kTooLarge) {
      SLUICE_FUZZ_CHECK(received.size() >= sluice::kMaxStatusRequestHead, received);
    }
    return;
  }
  SLUICE_FUZZ_CHECK(!r.method.empty() && r.head_size <= received.size(), received);
  SLUICE_FUZZ_CHECK(r.head_size <= sluice::kMaxStatusRequestHead, received);
  SLUICE_FUZZ_CHECK(r.head_size >= 2 && received[r.head_size - 1] == '\n', received);
  SLUICE_FUZZ_CHECK(r.path.find('?') == std::string_view::npos, received);
  // The request line comes first: method, one space, then the target.
  SLUICE_FUZZ_CHECK(r.method.data() == received.data(), received);
  SLUICE_FUZZ_CHECK(r.method.size() < received.size() && received[r.method.size()] == ' ', received);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  __sanitizer_install_malloc_and_free_hooks(onMalloc, onFree);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view received = sluice::fuzz::asText(data, size);
  const StatusRequest all = parseCounted(received);
  checkShape(all, received);

  // Streaming: two prefixes, one chosen by the input's last byte.
  for (const std::size_t n :
       {size / 2, size == 0 ? std::size_t{0} : size * data[size - 1] / 256}) {
    const Prefix prefix(received, n);
    const StatusRequest part = parseCounted(prefix.view());
    checkShape(part, prefix.view());
    switch (all.head) {
      case Head::kComplete:
        if (n < all.head_size) {
          SLUICE_FUZZ_CHECK(part.head == Head::kIncomplete, received);
        } else {
          SLUICE_FUZZ_CHECK(same(part, all), received);
        }
        break;
      case Head::kIncomplete:
        SLUICE_FUZZ_CHECK(part.head == Head::kIncomplete, received);
        break;
      case Head::kMalformed:
      case Head::kTooLarge:
        SLUICE_FUZZ_CHECK(part.head != Head::kComplete, received);
        break;
    }
    // The converse: a final answer on a prefix stands.
    if (part.head == Head::kMalformed) SLUICE_FUZZ_CHECK(all.head == Head::kMalformed, received);
    if (part.head == Head::kTooLarge) SLUICE_FUZZ_CHECK(all.head == Head::kTooLarge, received);
  }

  // More bytes after a final answer change nothing; the limit caps what is read.
  if (all.head != Head::kIncomplete) {
    const std::string more = std::string(received) + "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    const StatusRequest longer = parseCounted(more);
    checkShape(longer, more);
    SLUICE_FUZZ_CHECK(same(longer, all), received);
  }
  if (size > sluice::kMaxStatusRequestHead) {
    const Prefix prefix(received, sluice::kMaxStatusRequestHead);
    const StatusRequest capped = parseCounted(prefix.view());
    SLUICE_FUZZ_CHECK(same(capped, all), received);
  }
  return 0;
}
