#include "delivery/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "delivery/batch_request.h"
#include "delivery/idempotency_key.h"

namespace sluice {
namespace {

std::uint64_t fnv1a64(std::string_view data) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : data) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

// What an answer says about the sink's concurrency: only an accepted request's latency is
// the sink's work; 429, 503 and timeouts ask for less.
ConcurrencyLimit::Signal concurrencySignal(const HttpResponse& r, Verdict verdict) {
  if (r.failure == TransportFailure::kTimeout || r.status == 429 || r.status == 503) {
    return ConcurrencyLimit::Signal::kBackPressure;
  }
  return verdict == Verdict::kAccepted ? ConcurrencyLimit::Signal::kAccepted
                                       : ConcurrencyLimit::Signal::kOther;
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
  PartitionState* partition = event->partition.get();
  const std::int64_t offset = event->offset;
  const Event& ev = *event;
  // A sink that had it already (sink progress), or that a transform routed it away from.
  const auto hadIt = [&](std::uint32_t s) {
    return (partition != nullptr && s < partition->resume_below.size() &&
            offset < partition->resume_below[s]) ||
           ev.skips(s);
  };
  std::uint32_t pending = 0;
  for (std::uint32_t s = 0; s < n; ++s) pending += hadIt(s) ? 0 : 1;
  if (pending == 0) {
    for (std::uint32_t s = 0; s < n; ++s) ++sinks_[s].counters.skipped;
    on_done_(std::move(event));
    return;
  }
  events_.emplace(id, EventEntry{std::move(event), pending});
  std::vector<std::uint32_t> to_prepare;  // sinks whose transform shapes the event first
  for (std::uint32_t s = 0; s < n; ++s) {
    if (hadIt(s)) {
      ++sinks_[s].counters.skipped;
      partition->sinkDone(s, ev.offset);
      continue;
    }
    const std::uint64_t token = tokenOf(id, s);
    Delivery& d = deliveries_.emplace(token, Delivery{id, s}).first->second;
    SinkRuntime& rt = sinks_[s];
    rt.backlog_bytes += ev.bodyFor(s).size();
    bool lane_head = true;
    if (auto lane = laneOf(rt, ev)) {
      // A delivery still being shaped takes its place in the lane now: the order is the
      // partition's, not the order the transforms finish in.
      auto& queue = rt.lanes[*lane];
      queue.push_back(token);
      lane_head = queue.size() == 1;
    }
    if (rt.settings.prepared && preparer_) {
      d.state = DeliveryState::kPreparing;
      ++rt.preparing;
      to_prepare.push_back(s);
      continue;
    }
    ++rt.waiting;
    if (lane_head) rt.ready.push_back(token);  // otherwise it waits for the one before it
  }
  // After the bookkeeping above: a preparer may answer at once.
  for (const std::uint32_t s : to_prepare) preparer_(tokenOf(id, s), ev, s);
  for (std::uint32_t s = 0; s < n; ++s) pump(s);
}

bool Dispatcher::prepared(std::uint64_t token, Preparation p) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end() || it->second.state != DeliveryState::kPreparing) return false;
  Delivery& d = it->second;
  const std::uint32_t sink = d.sink;
  SinkRuntime& rt = sinks_[sink];
  Event& ev = *events_.at(d.event_id).event;
  --rt.preparing;
  switch (p.kind) {
    case Preparation::Kind::kSkip:
      ++rt.counters.skipped;
      if (ev.partition) ev.partition->sinkDone(sink, ev.offset);
      finishDelivery(token);
      break;
    case Preparation::Kind::kFail:
      ++rt.counters.gave_up;
      ev.failures.push_back(SinkFailure{rt.settings.name, "transform_failed", 0,
                                        std::move(p.error), 0});
      finishDelivery(token);
      break;
    case Preparation::Kind::kSend: {
      rt.backlog_bytes -= ev.bodyFor(sink).size();
      if (!ev.transforms) ev.transforms = std::make_unique<EventTransforms>();
      if (ev.transforms->sinks.size() < sinks_.size()) ev.transforms->sinks.resize(sinks_.size());
      auto& shaped = ev.transforms->sinks[sink];
      shaped.body = std::move(p.body);
      shaped.headers = std::move(p.headers);
      rt.backlog_bytes += ev.bodyFor(sink).size();
      d.state = DeliveryState::kQueued;
      ++rt.waiting;
      bool lane_head = true;
      if (auto lane = laneOf(rt, ev)) {
        auto lit = rt.lanes.find(*lane);
        lane_head = lit == rt.lanes.end() || lit->second.front() == token;
      }
      if (lane_head) rt.ready.push_back(token);
      pump(sink);
      break;
    }
  }
  return true;
}

void Dispatcher::hold(bool held) {
  held_ = held;
  if (held) return;
  for (std::uint32_t s = 0; s < sinks_.size(); ++s) pump(s);
}

void Dispatcher::pump(std::uint32_t sink) {
  SinkRuntime& rt = sinks_[sink];
  // A transport may answer synchronously (e.g. it could not start the request); the guard
  // keeps that from recursing once per queued delivery.
  if (rt.pumping || held_) return;
  rt.pumping = true;
  markLaggards(rt);
  while (!rt.ready.empty()) {
    // An open circuit probes one request at a time; otherwise the window counts what is in
    // flight but laggards, and the cap everything.
    const bool full = rt.circuit_open
                          ? rt.in_flight >= 1
                          : rt.in_flight - rt.laggards >= rt.limit.limit() ||
                                rt.in_flight >= rt.settings.max_in_flight;
    if (full) {
      if (!rt.circuit_open) {
        rt.limit.saturated();  // requests wait for a slot
        // A slot frees when the oldest request turns laggard (unless it would be a probe too
        // many: then only an answer changes anything, and pumps).
        if (rt.laggard_timer == 0 && !rt.started.empty() &&
            (rt.started.front().first < rt.newest_answered_start || !probesExhausted(rt)) &&
            rt.in_flight < rt.settings.max_in_flight) {
          const TimePoint at = rt.started.front().first + rt.limit.laggardAfter();
          const auto wait = std::max(Millis(1), std::chrono::ceil<Millis>(at - scheduler_.now()));
          rt.laggard_timer = scheduler_.runAfter(wait, [this, sink] {
            sinks_[sink].laggard_timer = 0;
            pump(sink);
          });
        }
      }
      break;
    }
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
    if (!deliveries_.contains(token)) continue;  // abandoned while queued
    --rt.waiting;
    std::vector<std::uint64_t> batch = takeBatch(rt, token);
    if (rt.limit.adaptive()) {
      rt.limit.sent(rt.settings.batch_max_events > 1 &&
                    batch.size() < rt.settings.batch_max_events && rt.waiting == 0);
    }
    start(sink, std::move(batch));
  }
  rt.pumping = false;
}

std::vector<std::uint64_t> Dispatcher::takeBatch(SinkRuntime& rt, std::uint64_t first) {
  std::vector<std::uint64_t> tokens{first};
  // An open circuit probes with single events: a probe is to learn, not to deliver.
  const Delivery& first_delivery = deliveries_.at(first);
  if (rt.settings.batch_max_events <= 1 || rt.circuit_open || first_delivery.single) {
    return tokens;
  }
  const Event& head = *events_.at(first_delivery.event_id).event;
  std::uint64_t bytes = head.bodyFor(first_delivery.sink).size();
  std::size_t key_bytes = keyListGrowth(head.idempotency_key.size(), true);
  std::size_t offset_bytes = offsetListGrowth(head.offset, true);
  const std::size_t header_limit = rt.settings.batch_max_header_bytes;
  // Only the run of the same partition at the front of the queue: a batch belongs to one
  // partition, so abandoning a partition never splits one, and no search through the queue.
  while (tokens.size() < rt.settings.batch_max_events && !rt.ready.empty()) {
    const std::uint64_t next = rt.ready.front();
    auto it = deliveries_.find(next);
    if (it == deliveries_.end()) {
      rt.ready.pop_front();
      continue;
    }
    const Event& ev = *events_.at(it->second.event_id).event;
    const std::size_t more_keys = keyListGrowth(ev.idempotency_key.size(), false);
    const std::size_t more_offsets = offsetListGrowth(ev.offset, false);
    if (it->second.single || ev.partition != head.partition ||
        !ev.sameHeadersFor(first_delivery.sink, head) ||
        bytes + ev.bodyFor(first_delivery.sink).size() > rt.settings.batch_max_bytes ||
        key_bytes + more_keys > header_limit || offset_bytes + more_offsets > header_limit) {
      break;
    }
    rt.ready.pop_front();
    --rt.waiting;
    bytes += ev.bodyFor(first_delivery.sink).size();
    key_bytes += more_keys;
    offset_bytes += more_offsets;
    tokens.push_back(next);
  }
  return tokens;
}

void Dispatcher::start(std::uint32_t sink, std::vector<std::uint64_t> tokens) {
  SinkRuntime& rt = sinks_[sink];
  const std::uint64_t id = next_request_++;
  const TimePoint now = scheduler_.now();
  for (const std::uint64_t token : tokens) {
    Delivery& d = deliveries_.at(token);
    d.state = DeliveryState::kInFlight;
    d.request = id;
    if (d.attempt++ == 0) d.first_attempt = now;
  }
  ++rt.in_flight;
  rt.in_flight_events += tokens.size();
  if (rt.limit.adaptive()) rt.started.emplace_back(now, id);
  ++rt.counters.attempts;
  const Delivery& first = deliveries_.at(tokens.front());
  const Event& ev = *events_.at(first.event_id).event;
  HttpRequest req;
  req.sink = sink;
  req.topic = ev.partition->topic;
  req.partition = ev.partition->partition;
  req.offset = ev.offset;
  req.attempt = first.attempt;
  Request& r = requests_[id];
  r.sink = sink;
  r.started = now;
  if (ev.transforms) {  // a batch's events all have the same headers (takeBatch)
    req.headers = &ev.headers();
    req.more_headers = &ev.headersFor(sink);
  }
  if (tokens.size() == 1) {
    req.body = ev.bodyFor(sink);  // zero-copy: the event outlives the request
    req.idempotency_key = ev.idempotency_key;
  } else {
    std::vector<BatchItem> items;
    items.reserve(tokens.size());
    for (const std::uint64_t token : tokens) {
      const Delivery& d = deliveries_.at(token);
      const Event& e = *events_.at(d.event_id).event;
      items.push_back({e.bodyFor(sink), e.idempotency_key, e.offset});
      req.attempt = std::max(req.attempt, d.attempt);
    }
    BatchBody assembled = assembleBatch(items);
    r.body = std::move(assembled.body);
    r.keys = std::move(assembled.keys);
    r.offsets = std::move(assembled.offsets);
    // The same events in the same order give the same key, so a batch retried as it was is
    // recognisable as a whole too; each event's own key is in batch_keys.
    r.key = toSfString("batch/" + std::string(ev.partition->topic) + "/" +
                       std::to_string(ev.partition->partition) + "/" +
                       std::to_string(ev.offset) + "/" + std::to_string(tokens.size()) + "/" +
                       std::to_string(fnv1a64(r.keys)));
    req.body = r.body;
    req.idempotency_key = r.key;
    req.batch_keys = r.keys;
    req.batch_offsets = r.offsets;
    r.batch = true;
    copied_bytes_ += r.copied();
  }
  r.deliveries = std::move(tokens);
  // May answer at once (a request that could not start), which erases `r`.
  transport_->send(id, req);
}

void Dispatcher::onResponse(std::uint64_t id, const HttpResponse& response) {
  auto rit = requests_.find(id);
  if (rit == requests_.end()) return;  // cancelled
  const Request request = std::move(rit->second);
  requests_.erase(rit);
  copied_bytes_ -= request.copied();
  const std::uint32_t sink = request.sink;
  SinkRuntime& rt = sinks_[sink];
  --rt.in_flight;
  if (request.laggard) --rt.laggards;
  if (observer_) observer_(sink, response);

  const Verdict verdict = rt.settings.statuses.classify(response);
  // The latency sluice saw, from start() to this answer, not libcurl's transfer time: while
  // the loop is busy (a start-up burst) requests wait in sluice before and after curl times
  // them, and curl reported ~30 us while answers took 5-70 ms, so the window kept doubling
  // to max_in_flight.
  const TimePoint now = scheduler_.now();
  const auto seen = std::chrono::duration_cast<std::chrono::microseconds>(now - request.started);
  rt.limit.observe(now, seen, concurrencySignal(response, verdict));
  if (verdict == Verdict::kAccepted) {
    rt.newest_answered_start = std::max(rt.newest_answered_start, request.started);
    rt.consecutive_failures = 0;
    if (rt.circuit_open) {
      rt.circuit_open = false;
      if (rt.probe_timer != 0) scheduler_.cancel(rt.probe_timer);
      rt.probe_timer = 0;
      spdlog::info("sink {}: accepting again; circuit closed", rt.settings.name);
    }
  } else {
    ++rt.counters.failed_attempts;
    recordFailure(rt, response);
  }
  for (const std::uint64_t token : request.deliveries) {
    onDeliveryResponse(token, rt, verdict, response, request.batch);
  }
  pump(sink);
}

void Dispatcher::onDeliveryResponse(std::uint64_t token, SinkRuntime& rt, Verdict verdict,
                                    const HttpResponse& response, bool batch) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end()) return;
  Delivery& d = it->second;
  --rt.in_flight_events;
  d.request = 0;
  if (verdict == Verdict::kAccepted) {
    ++rt.counters.delivered;
    if (auto e = events_.find(d.event_id); e != events_.end() && e->second.event->partition) {
      e->second.event->partition->sinkDone(d.sink, e->second.event->offset);
    }
    finishDelivery(token);
  } else if (batch) {
    // The answer is about the batch, not about this event: try each alone before anyone
    // gives up, so only an event the sink refuses on its own reaches the dead-letter path.
    d.single = true;
    scheduleRetry(token, d, response, /*exhausted=*/false);
  } else {
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
}

void Dispatcher::finishDelivery(std::uint64_t token) {
  auto it = deliveries_.find(token);
  const std::uint64_t event_id = it->second.event_id;
  const std::uint32_t sink = it->second.sink;
  SinkRuntime& rt = sinks_[sink];
  deliveries_.erase(it);
  auto eit = events_.find(event_id);
  if (eit == events_.end()) return;
  rt.backlog_bytes -= eit->second.event->bodyFor(sink).size();
  if (auto lane = laneOf(rt, *eit->second.event)) {
    auto lit = rt.lanes.find(*lane);
    if (lit != rt.lanes.end()) {
      auto& queue = lit->second;
      if (!queue.empty() && queue.front() == token) {
        queue.pop_front();
        // The next event of this lane may go now, unless its transform is still at work
        // (prepared() queues it then).
        if (!queue.empty() && deliveries_.at(queue.front()).state != DeliveryState::kPreparing) {
          rt.ready.push_back(queue.front());
        }
      } else {
        std::erase(queue, token);  // skipped or failed by its transform before its turn
      }
      if (queue.empty()) rt.lanes.erase(lit);
    }
  }
  if (--eit->second.pending_sinks > 0) return;
  EventPtr ev = std::move(eit->second.event);
  events_.erase(eit);
  on_done_(std::move(ev));
}

std::optional<TimePoint> Dispatcher::oldestPending(std::size_t i) const {
  std::optional<TimePoint> oldest;
  for (const auto& [id, entry] : events_) {
    if (!deliveries_.contains(tokenOf(id, static_cast<std::uint32_t>(i)))) continue;
    if (!oldest || entry.event->received_at < *oldest) oldest = entry.event->received_at;
  }
  return oldest;
}

}  // namespace sluice
