// Which requests in flight the adaptive window stops counting: laggards, slow while the sink
// answers others (a sink slow for 1% of its requests must not starve the other 99%).
#include "delivery/dispatcher.h"

namespace sluice {

void Dispatcher::markLaggards(SinkRuntime& rt) {
  // A fixed window records no start times, and its laggardAfter() is "never": now minus it
  // would overflow.
  if (rt.started.empty()) return;
  const TimePoint cutoff = scheduler_.now() - rt.limit.laggardAfter();
  while (!rt.started.empty()) {
    const auto [at, id] = rt.started.front();
    auto it = requests_.find(id);
    if (it == requests_.end() || it->second.laggard) {  // answered since: forget it
      rt.started.pop_front();
      continue;
    }
    if (at > cutoff) break;
    // A request the sink has overtaken is slow on its own: a laggard. One nobody overtook may
    // be as slow as all the others (the sink is overwhelmed, or sluice's loop is busy with a
    // burst): only a few such turn laggard, probes whose slots show whether the sink still
    // answers. Letting them all turn laggard would open connections up to the cap, what an
    // overwhelmed sink needs least (and 512 per sink cost 20 MiB at a burst). More than one:
    // with a window of one, a sink slow for 1% of its requests is slow for two in a row a few
    // times a minute at 10k requests/s, and a single probe stalled it for the whole delay.
    if (at >= rt.newest_answered_start) {
      if (probesExhausted(rt)) break;
      rt.probe_laggards.push_back(id);
    }
    it->second.laggard = true;
    ++rt.laggards;
    rt.started.pop_front();
  }
}

bool Dispatcher::probesExhausted(SinkRuntime& rt) {
  std::erase_if(rt.probe_laggards, [&](std::uint64_t id) {
    const auto it = requests_.find(id);
    return it == requests_.end() || it->second.started < rt.newest_answered_start;
  });
  return rt.probe_laggards.size() >= kMaxProbes;
}

}  // namespace sluice
