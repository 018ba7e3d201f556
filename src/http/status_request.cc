#include "http/status_request.h"

#include <algorithm>

namespace sluice {
namespace {

// Character classes of RFC 9110 §5.6.2 and RFC 5234 B.1, on bytes (never a negative char).
bool isDigit(char ch) { return ch >= '0' && ch <= '9'; }

bool isTchar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (isDigit(ch) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}

bool isVchar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c > 0x20 && c < 0x7f;
}

bool isCtl(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c < 0x20 || c == 0x7f;
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), strictly: one space
// each, no control characters or obs-text in the target. With `complete` false the line's end
// has not arrived, and the answer is whether it can still become one.
bool requestLine(std::string_view line, bool complete, std::string_view& method,
                 std::string_view& target) {
  std::size_t i = 0;
  while (i < line.size() && isTchar(line[i])) ++i;
  if (i == line.size()) return !complete;
  if (i == 0 || line[i] != ' ') return false;
  const std::size_t t = ++i;
  while (i < line.size() && isVchar(line[i])) ++i;
  if (i == line.size()) return !complete;
  if (i == t || line[i] != ' ') return false;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, and only 1.x comes in this framing.
  constexpr std::string_view kHttp1 = "HTTP/1.";
  const std::string_view version = line.substr(i + 1);
  const std::size_t n = std::min(version.size(), kHttp1.size());
  if (version.substr(0, n) != kHttp1.substr(0, n)) return false;
  if (version.size() == kHttp1.size() + 1 && isDigit(version.back())) {
    method = line.substr(0, t - 1);
    target = line.substr(t, i - t);
    return true;
  }
  return !complete && version.size() <= kHttp1.size();
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). Whitespace before the colon
// must be refused with 400 (§5.1), and so is obs-fold, a line starting with whitespace (§5.2);
// a value may hold HTAB and obs-text, no other control character (RFC 9110 §5.5).
bool fieldLine(std::string_view line, bool complete) {
  std::size_t i = 0;
  while (i < line.size() && isTchar(line[i])) ++i;
  if (i == line.size()) return !complete;
  if (i == 0 || line[i] != ':') return false;
  for (++i; i < line.size(); ++i) {
    if (isCtl(line[i]) && line[i] != '\t') return false;
  }
  return true;
}

}  // namespace

StatusRequest parseStatusRequest(std::string_view received) noexcept {
  StatusRequest r;
  const std::string_view window = received.substr(0, kMaxStatusRequestHead);
  std::string_view method;
  std::string_view target;
  std::size_t start = 0;  // always <= window.size()
  for (bool first = true;; first = false) {
    const std::size_t lf = window.find('\n', start);
    const bool complete = lf != std::string_view::npos;
    std::string_view line = window.substr(start, complete ? lf - start : std::string_view::npos);
    // The CR of a CRLF; in an unfinished line the last CR may be one whose LF is on its way.
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (complete && !first && line.empty()) {
      r.head = StatusRequest::Head::kComplete;
      r.method = method;
      r.path = target.substr(0, target.find('?'));
      r.head_size = lf + 1;
      return r;
    }
    if (!(first ? requestLine(line, complete, method, target) : fieldLine(line, complete))) {
      r.head = StatusRequest::Head::kMalformed;
      return r;
    }
    if (!complete) {
      // Once the limit's worth of bytes is here without the blank line, the head is over it.
      r.head = received.size() >= kMaxStatusRequestHead ? StatusRequest::Head::kTooLarge
                                                         : StatusRequest::Head::kIncomplete;
      return r;
    }
    start = lf + 1;
  }
}

}  // namespace sluice
