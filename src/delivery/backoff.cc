#include "delivery/backoff.h"

#include <algorithm>
#include <charconv>
#include <cmath>

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

std::optional<std::chrono::seconds> parseRetryAfterSeconds(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  std::int64_t secs = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
  if (ec != std::errc() || end != value.data() + value.size() || secs < 0) return std::nullopt;
  return std::chrono::seconds(secs);
}

}  // namespace sluice
