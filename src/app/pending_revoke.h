#pragma once

#include <cstdint>
#include <vector>

#include "delivery/partition_registry.h"
#include "kafka/rd_handles.h"

namespace sluice {

// The partitions librdkafka has asked back while sluice drains their in-flight events before
// the one incremental unassign that ends the revoke. librdkafka 2.0.2 does not start a second
// revoke before that call, but nothing in its API promises so: a second one joins the first
// (one unassign for both, the first's drain deadline) rather than replacing it and leaving
// the first set assigned forever.
class PendingRevoke {
 public:
  PendingRevoke();

  // `states`: sluice's state of those partitions it knows (some may be unknown to it).
  void add(const rd_kafka_topic_partition_list_t& partitions,
           const std::vector<PartitionStatePtr>& states);

  // Forgets a partition lost meanwhile: librdkafka fails a whole incremental unassign that
  // names a partition it no longer has assigned.
  void remove(const char* topic, std::int32_t partition);
  bool empty() const { return partitions_->cnt == 0; }

  // Nothing left to wait for: no partition has an event outstanding other than held ones,
  // which can never finish by themselves.
  bool drained() const;

  const rd_kafka_topic_partition_list_t& partitions() const { return *partitions_; }
  const std::vector<PartitionStatePtr>& states() const { return states_; }

 private:
  RdPartitionListPtr partitions_;
  std::vector<PartitionStatePtr> states_;
};

}  // namespace sluice
