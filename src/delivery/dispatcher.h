#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "delivery/backoff.h"
#include "delivery/concurrency_limit.h"
#include "delivery/event.h"
#include "delivery/status_policy.h"
#include "delivery/http_transport.h"
#include "loop/event_loop.h"

namespace sluice {

struct SinkCounters {
  std::uint64_t attempts = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed_attempts = 0;  // each failed attempt, retried or not
  std::uint64_t gave_up = 0;          // deliveries handed to the dead-letter path
  std::uint64_t circuit_opened = 0;
  std::uint64_t skipped = 0;  // events not sent: the sink had them before a restart or handover
};

// Fans every event out to every sink. Each sink has its own FIFO, in-flight window, retry
// policy and circuit, so a slow or failing sink only fills its own queue; the others go on at
// their own pace. An event is done (and handed to the done callback) once every sink has
// accepted it or given up on it (Event::failures then names who gave up and why).
class Dispatcher final : public HttpResponseHandler {
 public:
  struct SinkSettings {
    std::string name;
    std::uint32_t max_in_flight = 512;  // the cap; the window adapts below it (adaptive)
    bool adaptive_concurrency = true;
    RetryPolicy retry;
    StatusPolicy statuses;
    Ordering ordering = Ordering::kUnordered;
    std::uint32_t circuit_failures = 5;
    std::uint32_t batch_max_events = 1;  // 1: one request per event
    std::uint64_t batch_max_bytes = 1 << 20;
    // Each of the Sluice-Idempotency-Keys and Sluice-Source-Offsets lines: common servers
    // refuse header lines over 8 KiB.
    std::size_t batch_max_header_bytes = 7 * 1024;
    // Each event is shaped for this sink (its transform) before it is sent: see prepareWith.
    bool prepared = false;
  };
  using DoneCallback = std::function<void(EventPtr)>;

  // `can_give_up`: whether a dead-letter path exists. Without one, a permanent failure is
  // retried at the longest backoff rather than dropped.
  Dispatcher(Scheduler& scheduler, std::vector<SinkSettings> sinks, bool can_give_up,
             std::uint64_t seed, DoneCallback on_done);

  // The transport is created after the dispatcher (it needs the dispatcher as its handler).
  void attach(HttpTransport& transport) { transport_ = &transport; }

  // Called for every finished HTTP attempt (metrics); optional.
  using AttemptObserver = std::function<void(std::uint32_t sink, const HttpResponse&)>;
  void observeAttempts(AttemptObserver observer) { observer_ = std::move(observer); }

  // What a sink's transform made of an event (its result, given back through prepared()).
  struct Preparation {
    enum class Kind { kSend, kSkip, kFail } kind = Kind::kSend;
    std::optional<std::string> body;  // replaces the body for this sink
    HttpHeaders headers;              // this sink's own
    std::string error;                // kFail: why (the event goes to the dead letters)
  };
  // Asked, on dispatch, to shape an event for each sink marked `prepared` (off the loop, on
  // a transform worker); the delivery waits for prepared(token, ...) while the other sinks
  // go on. The event stays where it is, unchanged, until then or until it is abandoned.
  using Preparer = std::function<void(std::uint64_t token, const Event& event, std::uint32_t sink)>;
  void prepareWith(Preparer preparer) { preparer_ = std::move(preparer); }
  // Returns false when the delivery is gone (its partition was abandoned meanwhile).
  bool prepared(std::uint64_t token, Preparation preparation);

  // Sends the event to every sink, except those that already had it (the event's offset is
  // below the sink's progress loaded for its partition, PartitionState::resume_below).
  void dispatch(EventPtr event);
  // While held, no request starts (new events, retries and probes queue); those under way
  // finish. Released, every queue is pumped.
  void hold(bool held);
  bool held() const { return held_; }

  // Drops every event of `partition` without completing it: its in-flight requests are
  // cancelled and its retries forgotten. Used when a partition is lost, or when its revoke
  // drain budget ran out; the new owner redelivers from the committed offset.
  std::vector<EventPtr> abandon(const PartitionState* partition);
  std::vector<EventPtr> abandonAll();

  std::size_t inFlightEvents() const { return events_.size(); }
  std::size_t sinkCount() const { return sinks_.size(); }
  const std::string& sinkName(std::size_t i) const { return sinks_[i].settings.name; }
  const SinkCounters& counters(std::size_t i) const { return sinks_[i].counters; }
  std::size_t sinkBacklog(std::size_t i) const {
    return sinks_[i].preparing + sinks_[i].waiting + sinks_[i].in_flight_events +
           sinks_[i].backing_off;
  }
  // Requests in flight (a batch is one).
  std::uint32_t sinkInFlight(std::size_t i) const { return sinks_[i].in_flight; }
  // How many requests sink i may have in flight now (ConcurrencyLimit).
  std::uint32_t concurrencyLimit(std::size_t i) const { return sinks_[i].limit.limit(); }
  // Payload bytes of the events sink i has not accepted yet.
  std::uint64_t sinkBacklogBytes(std::size_t i) const { return sinks_[i].backlog_bytes; }
  bool circuitOpen(std::size_t i) const { return sinks_[i].circuit_open; }
  // Entries in sink i's ready queue, stale ones included: bounded by what is waiting.
  std::size_t readyQueueLength(std::size_t i) const { return sinks_[i].ready.size(); }
  // Bytes the dispatcher holds beyond the events themselves (batch bodies and header lists):
  // counted against the in-flight byte budget alongside the events.
  std::uint64_t copiedBytes() const { return copied_bytes_; }
  // When the oldest event sink i has not yet accepted was received; nullopt if none. Walks
  // every event in flight: for scrapes, not for the hot path.
  std::optional<TimePoint> oldestPending(std::size_t i) const;

  void onResponse(std::uint64_t token, const HttpResponse& response) override;

  // How many of a sink's requests that nobody overtook may be laggards at once (see
  // markLaggards): probes, each opening one more connection while the sink answers none.
  static constexpr std::size_t kMaxProbes = 4;

 private:
  enum class DeliveryState { kPreparing, kQueued, kInFlight, kBackingOff };
  struct Delivery {
    std::uint64_t event_id;
    std::uint32_t sink;
    std::uint32_t attempt = 0;
    DeliveryState state = DeliveryState::kQueued;
    Scheduler::TimerId retry_timer = 0;
    TimePoint first_attempt{};
    bool warned_stuck = false;
    std::uint64_t request = 0;  // while in flight
    // Sent alone from now on: it was in a batch the sink did not accept, and one bad event
    // must not take its batch-mates down with it.
    bool single = false;
  };
  // One HTTP request: one delivery, or a batch of one partition's deliveries to one sink.
  struct Request {
    std::uint32_t sink = 0;
    bool batch = false;
    std::vector<std::uint64_t> deliveries;  // tokens; a dropped one leaves the list
    std::string body, keys, offsets, key;   // a batch's own; a single event's are views
    bool laggard = false;                   // in flight past the sink's laggardAfter()
    TimePoint started{};
    std::uint64_t copied() const { return body.size() + keys.size() + offsets.size() + key.size(); }
  };
  struct EventEntry {
    EventPtr event;
    std::uint32_t pending_sinks;
  };
  // Deliveries that must reach one sink in order (same partition, and same key in key mode).
  struct LaneKey {
    const PartitionState* partition;
    std::string key;
    bool operator==(const LaneKey&) const = default;
  };
  struct LaneKeyHash {
    std::size_t operator()(const LaneKey& k) const {
      return std::hash<const void*>()(k.partition) ^ (std::hash<std::string>()(k.key) << 1);
    }
  };
  struct SinkRuntime {
    SinkRuntime(SinkSettings s, Backoff b)
        : settings(std::move(s)),
          backoff(b),
          limit(settings.adaptive_concurrency, settings.max_in_flight) {}
    SinkSettings settings;
    Backoff backoff;
    ConcurrencyLimit limit;
    std::deque<std::uint64_t> ready;  // tokens waiting for a window slot
    std::unordered_map<LaneKey, std::deque<std::uint64_t>, LaneKeyHash> lanes;
    std::size_t preparing = 0;  // waiting for the sink's transform
    std::size_t waiting = 0;    // queued in `ready` or behind a lane head
    std::uint32_t in_flight = 0;         // requests: the cap counts these
    std::uint32_t laggards = 0;          // of those, the ones the window no longer counts
    // Requests by start time (ids; finished ones are dropped as they come to the front).
    std::deque<std::pair<TimePoint, std::uint64_t>> started;
    // When the latest-started request the sink accepted had started: a request older than
    // that is slow while the sink answers others: it may turn laggard.
    TimePoint newest_answered_start{};
    // The requests that turned laggard without being overtaken (see markLaggards), oldest
    // first; at most kMaxProbes of them since the newest answered start.
    std::deque<std::uint64_t> probe_laggards;
    Scheduler::TimerId laggard_timer = 0;
    std::size_t in_flight_events = 0;  // deliveries in those requests
    std::uint32_t backing_off = 0;
    std::uint64_t backlog_bytes = 0;
    bool pumping = false;
    std::uint32_t consecutive_failures = 0;
    bool circuit_open = false;
    TimePoint next_tls_report{};  // TLS failures are logged at most once a minute
    TimePoint probe_not_before{};
    Scheduler::TimerId probe_timer = 0;
    SinkCounters counters;
  };

  std::uint64_t tokenOf(std::uint64_t event_id, std::uint32_t sink) const {
    return event_id * sinks_.size() + sink;
  }
  std::optional<LaneKey> laneOf(const SinkRuntime& rt, const Event& e) const;
  void pump(std::uint32_t sink);
  // Marks the requests in flight past the sink's laggardAfter() that the sink has overtaken
  // (it accepted a request started after them), and up to kMaxProbes of the others.
  void markLaggards(SinkRuntime& rt);
  // Whether kMaxProbes requests nobody overtook are laggards still in flight (forgets the
  // ones answered or overtaken since).
  bool probesExhausted(SinkRuntime& rt);
  // Takes the next request's deliveries off the ready queue: one, or a batch.
  std::vector<std::uint64_t> takeBatch(SinkRuntime& rt, std::uint64_t first);
  void start(std::uint32_t sink, std::vector<std::uint64_t> tokens);
  void onDeliveryResponse(std::uint64_t token, SinkRuntime& rt, Verdict verdict,
                          const HttpResponse& response, bool batch);
  void retryDue(std::uint64_t token);
  void scheduleRetry(std::uint64_t token, Delivery& d, const HttpResponse& r, bool exhausted);
  void finishDelivery(std::uint64_t token);
  void recordFailure(SinkRuntime& rt, const HttpResponse& r);
  void dropDelivery(std::uint64_t token);
  std::vector<EventPtr> abandonIf(const std::function<bool(const Event&)>& pred,
                                  const PartitionState* lanes_of);

  Scheduler& scheduler_;
  HttpTransport* transport_ = nullptr;
  std::vector<SinkRuntime> sinks_;
  bool can_give_up_;
  bool held_ = false;
  DoneCallback on_done_;
  AttemptObserver observer_;
  Preparer preparer_;
  std::unordered_map<std::uint64_t, EventEntry> events_;
  std::unordered_map<std::uint64_t, Delivery> deliveries_;
  std::unordered_map<std::uint64_t, Request> requests_;  // by the transport's token
  std::uint64_t next_event_id_ = 1;
  std::uint64_t next_request_ = 1;
  std::uint64_t copied_bytes_ = 0;
};

}  // namespace sluice
