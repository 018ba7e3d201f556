#include "app/fetch_stall_alarm.h"

#include <spdlog/spdlog.h>

namespace sluice {

void FetchStallAlarm::tick(TimePoint now) {
  if (consumer_.statsReports() == reports_seen_) return;
  reports_seen_ = consumer_.statsReports();
  const bool reading = !backpressure_.overGlobalLimit() && !backpressure_.pausedForGlobalLimit();
  const auto held_back = [&](const std::string& topic, std::int32_t partition) {
    if (!reading) return true;
    const auto p = partitions_.find(topic, partition);
    return p == nullptr || p->paused;
  };
  for (const auto& c : watch_.update(now, consumer_.partitionStats(), held_back)) {
    if (c.stalled) {
      spdlog::warn(
          "partition {}[{}]: librdkafka has fetched nothing for it in {} s although it is "
          "assigned, not paused and not caught up ({}); its events wait and nothing past them "
          "is committed (is its leader reachable?)",
          c.topic, c.partition, FetchStallWatch::kDefaultAfter.count(), c.detail);
    } else {
      spdlog::info("partition {}[{}]: no longer stalled ({})", c.topic, c.partition, c.detail);
    }
  }
}

}  // namespace sluice
