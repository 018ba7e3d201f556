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
//  - else, if requests waited for a slot during the window (and, for a batching sink, at
//    least half its requests left full): grow, doubling until the first shrink (slow start),
//    then by one.
// A window ends once it has answers to half the requests sent since the limit changed (half
// the limit at most, at least kMinSamples): the first few answers to a new flight are its
// fastest, and a median of four of them let slow start double past a sink already queueing.
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
  // starve the rest: eight times the latest window's median latency or the baseline,
  // whichever is higher, at least kMinLaggard; never in fixed mode. Not the baseline alone:
  // when every request is slow (a busy start-up loop answering in 25 ms against a 3 ms
  // baseline, or a sink overwhelmed for good) answers still come out of order, and hundreds
  // of ordinary requests turned laggard, taking three sinks to 230-512 requests in flight.
  // The median is what most requests take; a laggard is slow against that.
  std::chrono::microseconds laggardAfter() const;
  // 2 ms: while a request is not yet a laggard it holds one of a few slots (a local sink's
  // window is 1-10), so a sink slow for 1% of 10k requests/s lost up to 70% of its slots
  // with 10 ms; below 2 ms a busy loop's own jitter makes laggards (and connections) of
  // ordinary requests.
  static constexpr std::chrono::milliseconds kMinLaggard{2};
  bool adaptive() const { return adaptive_; }
  // A request started with every slot taken, or waited for one: the limit bounds the sink.
  void saturated() { saturated_ = true; }
  // A request left; `part_full` if a batching sink's batch had room for more and nothing else
  // waited. A batching sink's free slots are not free: each sends at once what is queued, so
  // a wide window splits a burst into more, smaller requests, then holds the burst's full
  // batches all at once. While more than half of a window's requests leave part-full the
  // window is not what bounds the sink, and it does not grow (with start-up latency flat at
  // the loop's pace, slow start took three batching sinks to 128-512 requests in flight and
  // sluice to 90-145 MiB, against 15-65 requests this way).
  void sent(bool part_full = false) {
    ++sent_;
    // Only min(limit, this) is read: saturating keeps a limit held for days from wrapping.
    if (sent_since_change_ < limit_) ++sent_since_change_;
    if (part_full) ++part_full_;
  }
  void observe(TimePoint now, std::chrono::microseconds latency, Signal signal);

 private:
  void endWindow(TimePoint now);
  // The limit bounded this window: requests waited for a slot, and (a batching sink) at least
  // half its requests left full.
  bool bounded() const { return saturated_ && part_full_ * 2 <= sent_; }

  bool adaptive_;
  std::uint32_t max_;
  std::uint32_t limit_;
  bool slow_start_ = true;
  // This window's accepted latencies (µs), and what else it saw.
  std::vector<std::int64_t> latencies_;
  bool back_pressure_ = false;
  bool saturated_ = false;
  std::uint32_t sent_ = 0, part_full_ = 0;  // requests this window, and part-full batches
  std::uint32_t sent_since_change_ = 0;
  TimePoint window_end_{};
  TimePoint changed_at_{};  // when limit_ last changed
  // The lowest window median of this span and of the one before (the baseline is the lower).
  std::int64_t min_now_ = -1, min_before_ = -1;
  std::int64_t last_median_ = -1;  // the latest window's
  TimePoint span_end_{};
};

}  // namespace sluice
