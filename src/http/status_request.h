#pragma once

#include <cstddef>
#include <string_view>

namespace sluice {

// The longest request head the status port reads, request line and blank line included.
// Probes and scrapes send a few hundred bytes; a bearer token adds a kilobyte or two.
inline constexpr std::size_t kMaxStatusRequestHead = 8 * 1024;

struct StatusRequest {
  enum class Head {
    kIncomplete,  // valid so far: wait for more bytes
    kComplete,    // method, path and head_size are set
    kTooLarge,    // no end of head within kMaxStatusRequestHead bytes (431)
    kMalformed,   // not an HTTP/1.x request head, and no more bytes can make it one (400)
  };
  Head head = Head::kIncomplete;
  std::string_view method;     // as sent (methods are case-sensitive)
  std::string_view path;       // the request target up to its first '?'
  std::size_t head_size = 0;   // bytes up to and including the blank line
};

// Parses the request head at the start of `received`, everything read from the connection so
// far; what follows the head (a body, a second request) is ignored.
//
// Guarantees, for the fuzz target: total and pure. Any bytes of any length give one of the
// four answers; it looks at no more than the first kMaxStatusRequestHead bytes, never reads
// outside `received`, never allocates, never throws, and method and path point into
// `received` (they are empty unless the head is kComplete).
//
// Lines end in CRLF or a bare LF (RFC 9112 §2.2). A line that is malformed, or whose bytes so
// far can only become malformed, makes the head kMalformed at once, so garbage (a TLS hello,
// a NUL) is refused without waiting for a line end. Field lines are checked (a token, a colon,
// no control characters but HTAB) but not interpreted.
StatusRequest parseStatusRequest(std::string_view received) noexcept;

}  // namespace sluice
