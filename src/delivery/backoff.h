#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "config/config.h"

namespace sluice {

// Capped exponential backoff with full jitter (the delay is uniform in [0, cap)), so that many
// deliveries failing at once do not retry in lock-step against a recovering sink.
class Backoff {
 public:
  Backoff(BackoffSettings settings, std::uint64_t seed) : settings_(settings), rng_(seed) {}

  // Delay before attempt number `attempt` + 1, after `attempt` failed attempts (>= 1).
  std::chrono::milliseconds delayAfter(std::uint32_t attempt);

  // The upper bound delayAfter() draws from, without jitter.
  std::chrono::milliseconds ceilingAfter(std::uint32_t attempt) const;

 private:
  BackoffSettings settings_;
  std::mt19937_64 rng_;
};

// Where parsed Retry-After delays saturate: beyond any sane cap, far from overflowing.
inline constexpr std::chrono::seconds kRetryAfterSaturation{100LL * 365 * 24 * 3600};

// Parses a Retry-After value given in delta-seconds (RFC 9110 §10.2.3); nullopt for anything
// else.
std::optional<std::chrono::seconds> parseRetryAfterSeconds(std::string_view value);

// The delay a Retry-After value asks for: delta-seconds, or an HTTP-date in any of the three
// forms RFC 9110 §5.6.7 requires recipients to accept (a date in the past means no delay).
// nullopt for a value that is neither.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

}  // namespace sluice
