#include "app/fetch_stall_alarm.h"

#include <spdlog/spdlog.h>

namespace sluice {

void FetchStallAlarm::tick(TimePoint now) {
  // With every broker down nothing is fetched, and that is said once already (readiness and
  // the "kafka unreachable" warning), not once per partition.
  const bool reading = !backpressure_.overGlobalLimit() && !backpressure_.pausedForGlobalLimit() &&
                       consumer_.brokersUp() != 0;
  // Not assigned (librdkafka still reports revoked partitions a while) counts as held back.
  const auto held_back = [&](const std::string& topic, std::int32_t partition) {
    if (!reading) return true;
    const auto p = partitions_.find(topic, partition);
    return p == nullptr || p->paused;
  };
  report(watch_.hold(now, held_back));
  if (consumer_.statsReports() == reports_seen_) return;
  reports_seen_ = consumer_.statsReports();
  report(watch_.update(now, consumer_.partitionStats(), held_back));
}

void FetchStallAlarm::report(const std::vector<FetchStallWatch::Change>& changes) {
  for (const auto& c : changes) {
    if (c.stalled) {
      spdlog::warn(
          "partition {}[{}]: librdkafka has fetched nothing for it for {} s or more while "
          "sluice held nothing back ({}); its events wait and nothing past them is committed "
          "(is its leader reachable?)",
          c.topic, c.partition, FetchStallWatch::kDefaultAfter.count(), c.detail);
    } else {
      spdlog::info("partition {}[{}]: no longer stalled ({})", c.topic, c.partition, c.detail);
    }
  }
}

}  // namespace sluice
