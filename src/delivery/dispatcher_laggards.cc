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
    // burst): only one such at a time turns laggard, a probe whose slot shows whether the
    // sink still answers. Letting them all turn laggard would open connections up to the
    // cap, what an overwhelmed sink needs least (and 512 per sink cost 20 MiB at a burst).
    if (at >= rt.newest_answered_start) {
      if (probeLaggardOutstanding(rt)) break;
      rt.probe_laggard = id;
    }
    it->second.laggard = true;
    ++rt.laggards;
    rt.started.pop_front();
  }
}

bool Dispatcher::probeLaggardOutstanding(const SinkRuntime& rt) const {
  // Request ids start at 1: a sink that never probed finds nothing.
  const auto it = requests_.find(rt.probe_laggard);
  return it != requests_.end() && it->second.started >= rt.newest_answered_start;
}

}  // namespace sluice
