#pragma once

#include <cstdint>
#include <vector>

#include "delivery/partition_registry.h"
#include "kafka/fetch_stall.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"
#include "pipeline/backpressure.h"

namespace sluice {

// Feeds each new librdkafka statistics report to a FetchStallWatch, with what sluice holds back
// itself (paused partitions; everything while it is over its in-flight budget and reading
// nothing, or while no broker is reachable at all), and logs the partitions that stall and
// recover.
class FetchStallAlarm {
 public:
  FetchStallAlarm(const KafkaConsumer& consumer, const PartitionRegistry& partitions,
                  const Backpressure& backpressure)
      : consumer_(consumer), partitions_(partitions), backpressure_(backpressure) {}

  // Call it often: what sluice holds back is checked every time, statistics when new.
  void tick(TimePoint now);
  const FetchStallWatch& watch() const { return watch_; }

 private:
  void report(const std::vector<FetchStallWatch::Change>& changes);

  const KafkaConsumer& consumer_;
  const PartitionRegistry& partitions_;
  const Backpressure& backpressure_;
  FetchStallWatch watch_;
  std::uint64_t reports_seen_ = 0;
};

}  // namespace sluice
