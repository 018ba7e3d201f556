// The dispatcher's abandon path: a partition released (revoked, lost, or its drain budget
// spent) takes its events back unfinished; their requests are cancelled once nobody waits
// for them and their retries forgotten. The next owner delivers them again.
#include <algorithm>

#include "delivery/dispatcher.h"

namespace sluice {

void Dispatcher::dropDelivery(std::uint64_t token) {
  auto it = deliveries_.find(token);
  if (it == deliveries_.end()) return;
  Delivery& d = it->second;
  SinkRuntime& rt = sinks_[d.sink];
  if (auto eit = events_.find(d.event_id); eit != events_.end()) {
    rt.backlog_bytes -= eit->second.event->bodyFor(d.sink).size();
  }
  switch (d.state) {
    case DeliveryState::kInFlight: {
      --rt.in_flight_events;
      // The request goes on for the rest of a batch; cancelled once nobody waits for it.
      auto rit = requests_.find(d.request);
      if (rit != requests_.end()) {
        std::erase(rit->second.deliveries, token);
        if (rit->second.deliveries.empty()) {
          transport_->cancel(d.request);
          copied_bytes_ -= rit->second.copied();
          if (rit->second.laggard) --rt.laggards;
          requests_.erase(rit);
          --rt.in_flight;
        }
      }
      break;
    }
    case DeliveryState::kBackingOff:
      scheduler_.cancel(d.retry_timer);
      --rt.backing_off;
      break;
    case DeliveryState::kQueued:
      --rt.waiting;  // its token is skipped when the ready queue reaches it
      break;
    case DeliveryState::kPreparing:
      --rt.preparing;  // its transform's result finds no delivery and goes nowhere
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
    // Dropped deliveries leave their tokens behind; pump() skips them one by one, but behind
    // an open circuit it takes one token per probe, so after repeated rebalances with a dead
    // sink they would pile up without bound. Abandoning is rare: compact here.
    std::erase_if(rt.ready, [this](std::uint64_t token) { return !deliveries_.contains(token); });
  }
  for (std::uint32_t s = 0; s < sinks_.size(); ++s) pump(s);
  return out;
}

std::vector<EventPtr> Dispatcher::abandon(const PartitionState* partition) {
  return abandonIf([partition](const Event& e) { return e.partition.get() == partition; },
                   partition);
}

std::vector<EventPtr> Dispatcher::abandonAll() {
  return abandonIf([](const Event&) { return true; }, nullptr);
}

}  // namespace sluice
