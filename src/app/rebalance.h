#pragma once

#include <optional>

#include "app/offset_store.h"
#include "app/pending_revoke.h"
#include "delivery/partition_registry.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"
#include "pipeline/backpressure.h"
#include "pipeline/pipeline.h"

namespace sluice {

// sluice's side of the consumer group's rebalances. An assigned partition joins the registry.
// A revoked one stops taking events, and its in-flight events get the drain budget to finish
// before its final offset is stored and it is unassigned (librdkafka holds the rebalance until
// then). A lost one (another member may own it already) is dropped at once, nothing stored.
class Rebalance final : public RebalanceListener {
 public:
  // `consumer` may still be under construction: it is used from the first callback on.
  Rebalance(Scheduler& scheduler, KafkaConsumer& consumer, PartitionRegistry& partitions,
            Backpressure& backpressure, Pipeline& pipeline, OffsetStore& offsets,
            Millis drain_budget);

  void onAssign(const rd_kafka_topic_partition_list_t& partitions) override;
  void onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) override;

  // Finishes a pending revoke whose partitions have nothing outstanding but held events.
  void finishIfDrained();
  // Finishes a pending revoke now, leaving what is still in flight to the next owner.
  void finish();
  // Leaving the group: revokes from now on release at once (everything was drained already).
  void releaseAtOnce() { release_at_once_ = true; }

  // An assignment (possibly empty) arrived: we are a group member.
  bool joined() const { return joined_; }

 private:
  void release(const rd_kafka_topic_partition_list_t& partitions, bool lost);

  Scheduler& scheduler_;
  KafkaConsumer& consumer_;
  PartitionRegistry& partitions_;
  Backpressure& backpressure_;
  Pipeline& pipeline_;
  OffsetStore& offsets_;
  Millis drain_budget_;
  std::optional<PendingRevoke> revoke_;
  Scheduler::TimerId deadline_ = 0;
  bool release_at_once_ = false;
  bool joined_ = false;
};

}  // namespace sluice
