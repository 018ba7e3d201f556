#include "delivery/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {
namespace {

// Retry-After can ask for anything; a sink must not be able to park an event for a day.
constexpr std::chrono::milliseconds kMaxRetryAfter{300'000};

std::string describe(const HttpResponse& r) {
  if (r.failure != TransportFailure::kNone) return r.error;
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

Dispatcher::Dispatcher(Scheduler& scheduler, std::vector<SinkSettings> sinks, bool can_give_up,
                       std::uint64_t seed, DoneCallback on_done)
    : scheduler_(scheduler), can_give_up_(can_give_up), on_done_(std::move(on_done)) {
  for (auto& s : sinks) {
    const BackoffSettings backoff = s.retry.backoff;
    sinks_.emplace_back(std::move(s), Backoff(backoff, seed + sinks_.size()));
  }
}

std::optional<Dispatcher::LaneKey> Dispatcher::laneOf(const SinkRuntime& rt, const Event& e) const {
  switch (rt.settings.ordering) {
    case Ordering::kUnordered:
      return std::nullopt;
    case Ordering::kPartition:
      return LaneKey{e.partition.get(), {}};
    case Ordering::kKey:
      // A null key has nothing to be ordered by.
      if (!e.kafka_key) return std::nullopt;
      return LaneKey{e.partition.get(), std::string(*e.kafka_key)};
  }
  return std::nullopt;
}

void Dispatcher::dispatch(EventPtr event) {
  const std::uint64_t id = next_event_id_++;
  const auto n = static_cast<std::uint32_t>(sinks_.size());
  const Event& ev = *event;
  events_.emplace(id, EventEntry{std::move(event), n});
  for (std::uint32_t s = 0; s < n; ++s) {
    const std::uint64_t token = tokenOf(id, s);
    deliveries_.emplace(token, Delivery{id, s});
    SinkRuntime& rt = sinks_[s];
    ++rt.waiting;
    rt.backlog_bytes += ev.body.size();
    if (auto lane = laneOf(rt, ev)) {
      auto& queue = rt.lanes[*lane];
      queue.push_back(token);
      if (queue.size() > 1) continue;  // waits until the one before it is finished
    }
    rt.ready.push_back(token);
  }
  for (std::uint32_t s = 0; s < n; ++s) pump(s);
}

void Dispatcher::pump(std::uint32_t sink) {
  SinkRuntime& rt = sinks_[sink];
  // A transport may answer synchronously (e.g. it could not start the request); the guard
  // keeps that from recursing once per queued delivery.
  if (rt.pumping) return;
  rt.pumping = true;
  while (!rt.ready.empty()) {
    const std::uint32_t window = rt.circuit_open ? 1 : rt.settings.max_in_flight;
    if (rt.in_flight >= window) break;
    if (rt.circuit_open) {
      // An open circuit sends one probe at a time, paced, so a dead sink costs neither CPU
      // nor a storm of connection attempts.
      const TimePoint now = scheduler_.now();
      if (now < rt.probe_not_before) {
        if (rt.probe_timer == 0) {
          rt.probe_timer = scheduler_.runAfter(
              std::chrono::ceil<Millis>(rt.probe_not_before - now), [this, sink] {
                sinks_[sink].probe_timer = 0;
                pump(sink);
              });
        }
        break;
      }
    }
    const std::uint64_t token = rt.ready.front();
    rt.ready.pop_front();
    auto it = deliveries_.find(token);
    if (it == deliveries_.end()) continue;  // abandoned while queued
    --rt.waiting;
    start(token, it->second);
  }
  rt.pumping = false;
}

void Dispatcher::start(std::uint64_t token, Delivery& d) {
  SinkRuntime& rt = sinks_[d.sink];
  const Event& ev = *events_.at(d.event_id).event;
  d.state = DeliveryState::kInFlight;
  if (d.attempt++ == 0) d.first_attempt = scheduler_.now();
  ++rt.in_flight;
  ++rt.counters.attempts;
  HttpRequest req;
  req.sink = d.sink;
  req.body = ev.body;
  req.idempotency_key = ev.idempotency_key;
  req.topic = ev.partition->topic;
  req.partition = ev.partition->partition;
  req.offset = ev.offset;
  req.attempt = d.attempt;
  transport_->send(token, req);
}

void Dispatcher::onResponse(std::uint64_t token, const HttpResponse& response) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end()) return;  // cancelled
  Delivery& d = it->second;
  const std::uint32_t sink = d.sink;
  SinkRuntime& rt = sinks_[sink];
  --rt.in_flight;
  if (observer_) observer_(sink, response);

  const Verdict verdict = rt.settings.statuses.classify(response);
  if (verdict == Verdict::kAccepted) {
    ++rt.counters.delivered;
    rt.consecutive_failures = 0;
    if (rt.circuit_open) {
      rt.circuit_open = false;
      if (rt.probe_timer != 0) scheduler_.cancel(rt.probe_timer);
      rt.probe_timer = 0;
      spdlog::info("sink {}: accepting again; circuit closed", rt.settings.name);
    }
    finishDelivery(token);
  } else {
    ++rt.counters.failed_attempts;
    recordFailure(rt, response);
    const RetryPolicy& policy = rt.settings.retry;
    const bool exhausted =
        verdict == Verdict::kPermanent ||
        (policy.max_attempts > 0 && d.attempt >= policy.max_attempts) ||
        (policy.max_elapsed.count() > 0 &&
         scheduler_.now() - d.first_attempt >= policy.max_elapsed);
    if (exhausted && can_give_up_) {
      ++rt.counters.gave_up;
      Event& ev = *events_.at(d.event_id).event;
      ev.failures.push_back(SinkFailure{
          rt.settings.name,
          verdict == Verdict::kPermanent ? "permanent_status" : "retries_exhausted",
          response.status, response.error, d.attempt});
      finishDelivery(token);
    } else {
      scheduleRetry(token, d, response, exhausted);
    }
  }
  pump(sink);
}

void Dispatcher::recordFailure(SinkRuntime& rt, const HttpResponse& r) {
  ++rt.consecutive_failures;
  if (r.failure == TransportFailure::kTls && scheduler_.now() >= rt.next_tls_report) {
    rt.next_tls_report = scheduler_.now() + std::chrono::minutes(1);
    // Not a passing outage: a wrong CA or a refused client certificate stays wrong until
    // the config or the sink changes, so say so at once rather than at the circuit.
    spdlog::error("sink {}: TLS failed: {}; retrying (if it persists, check the sink's tls "
                  "settings: ca_bundle, client_certificate, client_key)",
                  rt.settings.name, r.error);
  }
  if (!rt.circuit_open && rt.consecutive_failures >= rt.settings.circuit_failures) {
    rt.circuit_open = true;
    ++rt.counters.circuit_opened;
    spdlog::warn("sink {}: {} consecutive failures (last: {}); circuit open, probing one "
                 "request at a time",
                 rt.settings.name, rt.consecutive_failures, describe(r));
  }
  if (rt.circuit_open) {
    const auto step = rt.consecutive_failures - rt.settings.circuit_failures + 1;
    rt.probe_not_before = scheduler_.now() + rt.backoff.ceilingAfter(std::min(step, 30u));
  }
}

void Dispatcher::scheduleRetry(std::uint64_t token, Delivery& d, const HttpResponse& r,
                               bool exhausted) {
  SinkRuntime& rt = sinks_[d.sink];
  std::chrono::milliseconds delay{0};
  if (exhausted) {
    // Nowhere to dead-letter it: hold it (and so the commit) and keep trying, slowly.
    delay = rt.settings.retry.backoff.max;
    if (!d.warned_stuck) {
      d.warned_stuck = true;
      const Event& ev = *events_.at(d.event_id).event;
      spdlog::error("sink {} refuses {}[{}]@{} ({}) and no dead_letter topic is configured; "
                    "retrying every {} ms, its partition's commit waits",
                    rt.settings.name, ev.partition->topic, ev.partition->partition, ev.offset,
                    describe(r), delay.count());
    }
  } else {
    delay = rt.backoff.delayAfter(d.attempt);
    if (!r.retry_after.empty()) {
      if (auto asked = parseRetryAfter(r.retry_after, std::chrono::system_clock::now())) {
        delay = std::min(*asked, kMaxRetryAfter);
      }
    }
  }
  d.state = DeliveryState::kBackingOff;
  ++rt.backing_off;
  d.retry_timer = scheduler_.runAfter(delay, [this, token] { retryDue(token); });
}

void Dispatcher::retryDue(std::uint64_t token) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end()) return;
  Delivery& d = it->second;
  SinkRuntime& rt = sinks_[d.sink];
  d.retry_timer = 0;
  d.state = DeliveryState::kQueued;
  --rt.backing_off;
  ++rt.waiting;
  // Retries go first: they are the oldest events and hold the commit watermark back.
  rt.ready.push_front(token);
  pump(d.sink);
}

void Dispatcher::finishDelivery(std::uint64_t token) {
  auto it = deliveries_.find(token);
  const std::uint64_t event_id = it->second.event_id;
  SinkRuntime& rt = sinks_[it->second.sink];
  deliveries_.erase(it);
  auto eit = events_.find(event_id);
  if (eit == events_.end()) return;
  rt.backlog_bytes -= eit->second.event->body.size();
  if (auto lane = laneOf(rt, *eit->second.event)) {
    auto lit = rt.lanes.find(*lane);
    if (lit != rt.lanes.end()) {
      auto& queue = lit->second;
      if (!queue.empty() && queue.front() == token) queue.pop_front();
      if (queue.empty()) {
        rt.lanes.erase(lit);
      } else {
        rt.ready.push_back(queue.front());  // the next event of this lane may go now
      }
    }
  }
  if (--eit->second.pending_sinks > 0) return;
  EventPtr ev = std::move(eit->second.event);
  events_.erase(eit);
  on_done_(std::move(ev));
}

void Dispatcher::dropDelivery(std::uint64_t token) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end()) return;
  Delivery& d = it->second;
  SinkRuntime& rt = sinks_[d.sink];
  if (auto eit = events_.find(d.event_id); eit != events_.end()) {
    rt.backlog_bytes -= eit->second.event->body.size();
  }
  switch (d.state) {
    case DeliveryState::kInFlight:
      transport_->cancel(token);
      --rt.in_flight;
      break;
    case DeliveryState::kBackingOff:
      scheduler_.cancel(d.retry_timer);
      --rt.backing_off;
      break;
    case DeliveryState::kQueued:
      --rt.waiting;  // its token is skipped when the ready queue reaches it
      break;
  }
  deliveries_.erase(it);
}

std::vector<EventPtr> Dispatcher::abandonIf(const std::function<bool(const Event&)>& pred,
                                            const PartitionState* lanes_of) {
  std::vector<std::uint64_t> doomed;
  for (const auto& [id, entry] : events_) {
    if (pred(*entry.event)) doomed.push_back(id);
  }
  std::vector<EventPtr> out;
  out.reserve(doomed.size());
  for (const std::uint64_t id : doomed) {
    for (std::uint32_t s = 0; s < sinks_.size(); ++s) dropDelivery(tokenOf(id, s));
    auto it = events_.find(id);
    out.push_back(std::move(it->second.event));
    events_.erase(it);
  }
  for (auto& rt : sinks_) {
    std::erase_if(rt.lanes, [lanes_of](const auto& kv) {
      return lanes_of == nullptr || kv.first.partition == lanes_of;
    });
  }
  for (std::uint32_t s = 0; s < sinks_.size(); ++s) pump(s);
  return out;
}

std::optional<TimePoint> Dispatcher::oldestPending(std::size_t i) const {
  std::optional<TimePoint> oldest;
  for (const auto& [id, entry] : events_) {
    if (!deliveries_.contains(tokenOf(id, static_cast<std::uint32_t>(i)))) continue;
    if (!oldest || entry.event->received_at < *oldest) oldest = entry.event->received_at;
  }
  return oldest;
}

std::vector<EventPtr> Dispatcher::abandon(const PartitionState* partition) {
  return abandonIf([partition](const Event& e) { return e.partition.get() == partition; },
                   partition);
}

std::vector<EventPtr> Dispatcher::abandonAll() {
  return abandonIf([](const Event&) { return true; }, nullptr);
}

}  // namespace sluice
