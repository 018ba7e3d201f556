#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "delivery/backoff.h"
#include "delivery/event.h"
#include "http/http_transport.h"
#include "loop/event_loop.h"

namespace sluice {

struct SinkCounters {
  std::uint64_t attempts = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed_attempts = 0;  // each failed attempt, later retried
};

// Fans every event out to every sink. Each sink has its own FIFO and in-flight window, so a
// slow or failing sink only fills its own queue; the others go on at their own pace. An event
// is done (and handed to the done callback) once every sink has accepted it. Failed attempts
// are retried after a capped, jittered backoff (or the sink's Retry-After) until they succeed.
class Dispatcher final : public HttpResponseHandler {
 public:
  struct SinkSettings {
    std::string name;
    std::uint32_t max_in_flight = 256;
  };
  using DoneCallback = std::function<void(Event&)>;

  Dispatcher(Scheduler& scheduler, std::vector<SinkSettings> sinks, BackoffSettings backoff,
             std::uint64_t seed, DoneCallback on_done);

  // The transport is created after the dispatcher (it needs the dispatcher as its handler).
  void attach(HttpTransport& transport) { transport_ = &transport; }

  void dispatch(EventPtr event);

  // Drops every event of `partition` without completing it: its in-flight requests are
  // cancelled and its retries forgotten. Used when a partition is lost, or when its revoke
  // drain budget ran out; the new owner redelivers from the committed offset.
  std::size_t abandon(const PartitionState* partition);
  std::size_t abandonAll();

  std::size_t inFlightEvents() const { return events_.size(); }
  std::size_t sinkCount() const { return sinks_.size(); }
  const std::string& sinkName(std::size_t i) const { return sinks_[i].settings.name; }
  const SinkCounters& counters(std::size_t i) const { return sinks_[i].counters; }
  std::size_t sinkBacklog(std::size_t i) const {
    return sinks_[i].ready.size() + sinks_[i].in_flight + sinks_[i].backing_off;
  }

  void onResponse(std::uint64_t token, const HttpResponse& response) override;

 private:
  enum class DeliveryState { kQueued, kInFlight, kBackingOff };
  struct Delivery {
    std::uint64_t event_id;
    std::uint32_t sink;
    std::uint32_t attempt = 0;
    DeliveryState state = DeliveryState::kQueued;
    Scheduler::TimerId retry_timer = 0;
  };
  struct EventEntry {
    EventPtr event;
    std::uint32_t pending_sinks;
  };
  struct SinkRuntime {
    SinkSettings settings;
    std::deque<std::uint64_t> ready;  // tokens waiting for a window slot
    std::uint32_t in_flight = 0;
    std::uint32_t backing_off = 0;
    bool pumping = false;
    bool failing = false;  // for logging state changes, not every failure
    SinkCounters counters;
  };

  std::uint64_t tokenOf(std::uint64_t event_id, std::uint32_t sink) const {
    return event_id * sinks_.size() + sink;
  }
  void pump(std::uint32_t sink);
  void start(std::uint64_t token, Delivery& d);
  void retryDue(std::uint64_t token);
  void sinkAccepted(std::uint64_t token, Delivery& d);
  void dropDelivery(std::uint64_t token);
  std::size_t abandonIf(const std::function<bool(const Event&)>& pred);

  Scheduler& scheduler_;
  HttpTransport* transport_ = nullptr;
  std::vector<SinkRuntime> sinks_;
  Backoff backoff_;
  DoneCallback on_done_;
  std::unordered_map<std::uint64_t, EventEntry> events_;
  std::unordered_map<std::uint64_t, Delivery> deliveries_;
  std::uint64_t next_event_id_ = 1;
};

}  // namespace sluice
