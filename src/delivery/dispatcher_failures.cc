// The dispatcher's failure path: what a failed attempt leads to (the sink's circuit, the
// backoff before the retry or the sink's Retry-After, and holding an event that has nowhere
// else to go).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "delivery/dispatcher.h"

namespace sluice {
namespace {

// Retry-After can ask for anything; a sink must not be able to park an event for a day.
constexpr std::chrono::milliseconds kMaxRetryAfter{300'000};

std::string describe(const HttpResponse& r) {
  if (r.failure != TransportFailure::kNone) return r.error;
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

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

}  // namespace sluice
