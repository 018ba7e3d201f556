#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "loop/event_loop.h"

namespace sluice {

// How many requests one sink may have in flight, adapted to what it sustains (adaptive
// request concurrency, as Vector's and Netflix's concurrency-limits do it): a fast sink needs
// few connections, a slow one many, and no fixed window serves both (every HTTP/1.1 request
// in flight holds a connection, and libcurl's work grows with their number).
//
// The latency is what sluice sees, from the request's start to its answer (sluice's own busy
// loop is queueing too), and a window counts only requests sent since the limit last changed
// (as TCP's slow start, one step per round trip: otherwise it doubles on the answers of the
// limit before and overshoots).
// The law, once per window (about the sink's latency, at least kMinWindow):
//  - back-pressure (429, 503 or a timeout) or the window's median latency above twice the
//    lowest median of the last 10-20 s (queueing: the sink, or sluice's own loop, is full):
//    shrink to 90% (at least by one);
//  - else, if requests waited for a slot during the window: grow, doubling until the first
//    shrink (slow start), then by one.
// The median, not the mean: a sink that is slow for 1% of its requests (they hold slots for
// their duration) still gets the window the other 99% need. Never above `max` (max_in_flight)
// nor below kMinLimit. Fixed mode keeps `max`.
class ConcurrencyLimit {
 public:
  enum class Signal {
    kAccepted,      // an answer the sink accepted: its latency counts
    kBackPressure,  // 429, 503, a timeout: the sink asks for less
    kOther,         // any other failure: says nothing about concurrency
  };
  static constexpr std::uint32_t kInitial = 8;
  // The floor (or `max` if lower): on a busy box a local sink's latency swings with the
  // scheduler, and a window of one or two stalls the sink at every swing (and at every
  // request slow before it turns laggard). The sink behind sets everyone's pace once the
  // in-flight budget is full, so such stalls cost every sink; four slots cost four connections.
  static constexpr std::uint32_t kMinLimit = 4;
  static constexpr std::chrono::milliseconds kMinWindow{10};
  static constexpr std::chrono::seconds kBaselineSpan{10};

  ConcurrencyLimit(bool adaptive, std::uint32_t max);

  std::uint32_t limit() const { return limit_; }
  // A request in flight longer than this (and overtaken by a later one, or a probe: see
  // Dispatcher::markLaggards) is a laggard: it keeps its connection but no longer counts
  // against limit() (only against max), so that a sink slow for a few of its requests does not
  // starve the rest: eight times the baseline latency, at least kMinLaggard; never in fixed
  // mode.
  std::chrono::microseconds laggardAfter() const;
  // 2 ms: while a request is not yet a laggard it holds one of a few slots (a local sink's
  // window is 1-10), so a sink slow for 1% of 10k requests/s lost up to 70% of its slots
  // with 10 ms; below 2 ms a busy loop's own jitter makes laggards (and connections) of
  // ordinary requests.
  static constexpr std::chrono::milliseconds kMinLaggard{2};
  bool adaptive() const { return adaptive_; }
  // A request started with every slot taken, or waited for one: the limit bounds the sink.
  void saturated() { saturated_ = true; }
  void observe(TimePoint now, std::chrono::microseconds latency, Signal signal);

 private:
  void endWindow(TimePoint now);

  bool adaptive_;
  std::uint32_t max_;
  std::uint32_t limit_;
  bool slow_start_ = true;
  // This window's accepted latencies (µs), and what else it saw.
  std::vector<std::int64_t> latencies_;
  bool back_pressure_ = false;
  bool saturated_ = false;
  TimePoint window_end_{};
  TimePoint changed_at_{};  // when limit_ last changed
  // The lowest window median of this span and of the one before (the baseline is the lower).
  std::int64_t min_now_ = -1, min_before_ = -1;
  TimePoint span_end_{};
};

}  // namespace sluice
