#include "delivery/backoff.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

namespace sluice {

std::chrono::milliseconds Backoff::ceilingAfter(std::uint32_t attempt) const {
  const double exponent = attempt == 0 ? 0.0 : static_cast<double>(attempt - 1);
  const double ms = static_cast<double>(settings_.initial.count()) *
                    std::pow(std::max(settings_.multiplier, 1.0), exponent);
  const double capped = std::min(ms, static_cast<double>(settings_.max.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

std::chrono::milliseconds Backoff::delayAfter(std::uint32_t attempt) {
  const auto ceiling = ceilingAfter(attempt).count();
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  std::uniform_int_distribution<std::int64_t> dist(0, ceiling);
  return std::chrono::milliseconds(dist(rng_));
}

namespace {

std::string_view trim(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == '\n')) {
    value.remove_suffix(1);
  }
  return value;
}

std::optional<std::time_t> parseHttpDate(const std::string& text) {
  // IMF-fixdate, then the obsolete RFC 850 and asctime forms.
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') return ::timegm(&tm);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::seconds> parseRetryAfterSeconds(std::string_view value) {
  value = trim(value);
  // delay-seconds = 1*DIGIT (RFC 9110 §10.2.3): no sign, no space, but any length. A value too
  // large for the clock saturates instead of wrapping to a negative delay.
  if (value.empty()) return std::nullopt;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::int64_t secs = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
  if (ec == std::errc::result_out_of_range || secs > kRetryAfterSaturation.count()) {
    return kRetryAfterSaturation;
  }
  if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
  return std::chrono::seconds(secs);
}

std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now) {
  if (auto secs = parseRetryAfterSeconds(value)) return *secs;
  const auto when = parseHttpDate(std::string(trim(value)));
  if (!when) return std::nullopt;
  // In whole seconds of time_t first: the clock's own nanoseconds end in 2262, and a date
  // beyond that would wrap around to a date in the past.
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::int64_t now_s = now_ms / 1000;
  const std::int64_t when_s = *when;
  if (when_s < now_s) return std::chrono::milliseconds(0);
  if (when_s - now_s > kRetryAfterSaturation.count()) return kRetryAfterSaturation;
  const std::int64_t delay_ms = when_s * 1000 - now_ms;
  if (delay_ms <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(delay_ms);
}

}  // namespace sluice
