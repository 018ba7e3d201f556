#include "delivery/concurrency_limit.h"

#include <algorithm>

namespace sluice {
namespace {

constexpr double kShrink = 0.9;
constexpr std::int64_t kLatencyRatio = 2;
// Below this the latency is noise (loopback and scheduling), not queueing.
constexpr std::int64_t kLatencyFloorMicros = 200;
constexpr std::size_t kMinSamples = 4;

}  // namespace

ConcurrencyLimit::ConcurrencyLimit(bool adaptive, std::uint32_t max)
    : adaptive_(adaptive), max_(std::max(max, 1u)), limit_(adaptive ? std::min(kInitial, max_) : max_) {}

std::chrono::microseconds ConcurrencyLimit::laggardAfter() const {
  if (!adaptive_) return std::chrono::microseconds::max();
  std::int64_t typical = min_now_;
  if (min_before_ >= 0 && (typical < 0 || min_before_ < typical)) typical = min_before_;
  typical = std::max<std::int64_t>({typical, last_median_, 0});
  return std::max<std::chrono::microseconds>(kMinLaggard, std::chrono::microseconds(8 * typical));
}

void ConcurrencyLimit::observe(TimePoint now, std::chrono::microseconds latency, Signal signal) {
  if (!adaptive_) return;
  // Only requests sent since the limit last changed say what the new limit does. Without
  // this, slow start doubles every kMinWindow on answers to requests sent under the limits
  // before, and overshoots by several doublings when the sink (or sluice's own busy loop)
  // answers slower than that; and a flight of timeouts sent under one limit would cut it
  // once every kMinWindow instead of once.
  const bool fresh = now - latency >= changed_at_;
  switch (signal) {
    case Signal::kAccepted:
      if (fresh) latencies_.push_back(latency.count());
      break;
    case Signal::kBackPressure:
      if (fresh) back_pressure_ = true;
      break;
    case Signal::kOther:
      break;
  }
  if (window_end_ == TimePoint{}) window_end_ = now + kMinWindow;
  // A window needs a few answers to have a median; back-pressure needs none.
  const std::size_t samples =
      std::max<std::size_t>(kMinSamples, std::min(limit_, sent_since_change_) / 2);
  if (now < window_end_ || (!back_pressure_ && latencies_.size() < samples)) return;
  endWindow(now);
}

void ConcurrencyLimit::endWindow(TimePoint now) {
  std::int64_t median = -1;
  if (!latencies_.empty()) {
    auto mid = latencies_.begin() + static_cast<std::ptrdiff_t>(latencies_.size() / 2);
    std::nth_element(latencies_.begin(), mid, latencies_.end());
    median = *mid;
  }
  if (now >= span_end_) {  // the baseline forgets what is older than one to two spans
    min_before_ = min_now_;
    min_now_ = -1;
    span_end_ = now + kBaselineSpan;
  }
  std::int64_t baseline = min_now_;
  if (min_before_ >= 0 && (baseline < 0 || min_before_ < baseline)) baseline = min_before_;
  const bool queueing = median >= 0 && baseline >= 0 &&
                        median > std::max(kLatencyRatio * baseline, kLatencyFloorMicros);
  const std::uint32_t before = limit_;
  if (back_pressure_ || queueing) {
    const auto shrunk = static_cast<std::uint32_t>(static_cast<double>(limit_) * kShrink);
    limit_ = std::max(std::min(kMinLimit, max_), std::min(shrunk, limit_ - 1));
    slow_start_ = false;
  } else if (bounded()) {
    limit_ = std::min(max_, slow_start_ ? limit_ * 2 : limit_ + 1);
  }
  if (limit_ != before) {
    changed_at_ = now;
    sent_since_change_ = 0;
  }
  if (median >= 0) last_median_ = median;
  if (median >= 0 && (min_now_ < 0 || median < min_now_)) min_now_ = median;
  // The next window lasts about one latency, so each step sees the effect of the last.
  const auto span = std::max<std::chrono::microseconds>(
      kMinWindow, std::chrono::microseconds(std::max<std::int64_t>(median, 0)));
  window_end_ = now + span;
  latencies_.clear();
  back_pressure_ = false;
  saturated_ = false;
  sent_ = part_full_ = 0;
}

}  // namespace sluice
