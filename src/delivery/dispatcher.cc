#include "delivery/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {
namespace {

// Retry-After can ask for anything; a sink must not be able to park an event for a day.
constexpr std::chrono::milliseconds kMaxRetryAfter{300'000};

bool accepted(const HttpResponse& r) {
  return r.failure == TransportFailure::kNone && r.status >= 200 && r.status < 300;
}

std::string describe(const HttpResponse& r) {
  if (r.failure != TransportFailure::kNone) return r.error;
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

Dispatcher::Dispatcher(Scheduler& scheduler, std::vector<SinkSettings> sinks,
                       BackoffSettings backoff, std::uint64_t seed, DoneCallback on_done)
    : scheduler_(scheduler), backoff_(backoff, seed), on_done_(std::move(on_done)) {
  for (auto& s : sinks) {
    SinkRuntime rt;
    rt.settings = std::move(s);
    sinks_.push_back(std::move(rt));
  }
}

void Dispatcher::dispatch(EventPtr event) {
  const std::uint64_t id = next_event_id_++;
  const auto n = static_cast<std::uint32_t>(sinks_.size());
  events_.emplace(id, EventEntry{std::move(event), n});
  for (std::uint32_t s = 0; s < n; ++s) {
    const std::uint64_t token = tokenOf(id, s);
    deliveries_.emplace(token, Delivery{id, s});
    sinks_[s].ready.push_back(token);
  }
  for (std::uint32_t s = 0; s < n; ++s) pump(s);
}

void Dispatcher::pump(std::uint32_t sink) {
  SinkRuntime& rt = sinks_[sink];
  // A transport may answer synchronously (e.g. it could not start the request); the guard
  // keeps that from recursing once per queued delivery.
  if (rt.pumping) return;
  rt.pumping = true;
  while (rt.in_flight < rt.settings.max_in_flight && !rt.ready.empty()) {
    const std::uint64_t token = rt.ready.front();
    rt.ready.pop_front();
    auto it = deliveries_.find(token);
    if (it == deliveries_.end()) continue;  // abandoned while queued
    start(token, it->second);
  }
  rt.pumping = false;
}

void Dispatcher::start(std::uint64_t token, Delivery& d) {
  SinkRuntime& rt = sinks_[d.sink];
  const Event& ev = *events_.at(d.event_id).event;
  d.state = DeliveryState::kInFlight;
  ++d.attempt;
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

  if (accepted(response)) {
    if (rt.failing) {
      rt.failing = false;
      spdlog::info("sink {} accepting again", rt.settings.name);
    }
    ++rt.counters.delivered;
    sinkAccepted(token, d);
  } else {
    ++rt.counters.failed_attempts;
    if (!rt.failing) {
      rt.failing = true;
      spdlog::warn("sink {} failing ({}); retrying with backoff", rt.settings.name,
                   describe(response));
    }
    std::chrono::milliseconds delay = backoff_.delayAfter(d.attempt);
    if (!response.retry_after.empty()) {
      if (auto asked = parseRetryAfter(response.retry_after, std::chrono::system_clock::now())) {
        delay = std::min(*asked, kMaxRetryAfter);
      }
    }
    d.state = DeliveryState::kBackingOff;
    ++rt.backing_off;
    d.retry_timer = scheduler_.runAfter(delay, [this, token] { retryDue(token); });
  }
  pump(sink);
}

void Dispatcher::retryDue(std::uint64_t token) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end()) return;
  Delivery& d = it->second;
  SinkRuntime& rt = sinks_[d.sink];
  d.retry_timer = 0;
  d.state = DeliveryState::kQueued;
  --rt.backing_off;
  // Retries go first: they are the oldest events and hold the commit watermark back.
  rt.ready.push_front(token);
  pump(d.sink);
}

void Dispatcher::sinkAccepted(std::uint64_t token, Delivery& d) {
  const std::uint64_t event_id = d.event_id;
  deliveries_.erase(token);
  auto eit = events_.find(event_id);
  if (eit == events_.end()) return;
  if (--eit->second.pending_sinks > 0) return;
  EventPtr ev = std::move(eit->second.event);
  events_.erase(eit);
  on_done_(*ev);
}

void Dispatcher::dropDelivery(std::uint64_t token) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end()) return;
  Delivery& d = it->second;
  SinkRuntime& rt = sinks_[d.sink];
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
      break;  // its token is skipped when the queue reaches it
  }
  deliveries_.erase(it);
}

std::size_t Dispatcher::abandonIf(const std::function<bool(const Event&)>& pred) {
  std::vector<std::uint64_t> doomed;
  for (const auto& [id, entry] : events_) {
    if (pred(*entry.event)) doomed.push_back(id);
  }
  for (const std::uint64_t id : doomed) {
    for (std::uint32_t s = 0; s < sinks_.size(); ++s) dropDelivery(tokenOf(id, s));
    events_.erase(id);
  }
  for (std::uint32_t s = 0; s < sinks_.size(); ++s) pump(s);
  return doomed.size();
}

std::size_t Dispatcher::abandon(const PartitionState* partition) {
  return abandonIf([partition](const Event& e) { return e.partition.get() == partition; });
}

std::size_t Dispatcher::abandonAll() {
  return abandonIf([](const Event&) { return true; });
}

}  // namespace sluice
