#pragma once

#include "delivery/partition_registry.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"

namespace sluice {

// Hands each partition's committable offset (everything below it fully delivered) to
// librdkafka, whose auto-committer commits it every commit_interval_ms.
class OffsetStore {
 public:
  OffsetStore(PartitionRegistry& partitions, KafkaConsumer& consumer)
      : partitions_(partitions), consumer_(consumer) {}

  void store();
  // Stores at most every few milliseconds: a store is cheap but not free (a list and a lock
  // per partition), and commits happen on the commit interval anyway.
  void storeIfDue(TimePoint now);

 private:
  PartitionRegistry& partitions_;
  KafkaConsumer& consumer_;
  TimePoint next_store_{};
};

}  // namespace sluice
