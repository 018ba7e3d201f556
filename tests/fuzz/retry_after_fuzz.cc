// Retry-After values come from the sinks' answers. Properties: a delay is never negative and
// never beyond the saturation point (a wrapped delay would retry at once, or never); the
// delta-seconds form gives the same answer through both entry points; whitespace around the
// value changes nothing.
#include <chrono>
#include <cstdint>
#include <string>

#include "delivery/backoff.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace std::chrono;
  // A fixed "now" with a fraction of a second: 2026-01-01T00:00:00.250Z.
  static const system_clock::time_point kNow =
      system_clock::time_point(duration_cast<system_clock::duration>(milliseconds(1'767'225'600'250)));
  const std::string_view value = sluice::fuzz::asText(data, size);

  const auto delay = sluice::parseRetryAfter(value, kNow);
  if (delay) {
    SLUICE_FUZZ_CHECK(delay->count() >= 0, value);
    SLUICE_FUZZ_CHECK(*delay <= sluice::kRetryAfterSaturation, value);
  }
  if (const auto secs = sluice::parseRetryAfterSeconds(value)) {
    SLUICE_FUZZ_CHECK(secs->count() >= 0 && *secs <= sluice::kRetryAfterSaturation, value);
    SLUICE_FUZZ_CHECK(delay && *delay == *secs, value);
  }
  const std::string padded = " \t" + std::string(value) + "\t ";
  SLUICE_FUZZ_CHECK(sluice::parseRetryAfter(padded, kNow) == delay, value);
  return 0;
}
