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
  if (value.empty()) return std::nullopt;
  std::int64_t secs = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
  if (ec != std::errc() || end != value.data() + value.size() || secs < 0) return std::nullopt;
  return std::chrono::seconds(secs);
}


std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now) {
  if (auto secs = parseRetryAfterSeconds(value)) return *secs;
  const auto when = parseHttpDate(std::string(trim(value)));
  if (!when) return std::nullopt;
  const auto delay = std::chrono::system_clock::from_time_t(*when) - now;
  if (delay <= std::chrono::system_clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(delay);
}

}  // namespace sluice
