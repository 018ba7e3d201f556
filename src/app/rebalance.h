#pragma once

#include "app/offset_store.h"
#include "app/sink_progress.h"
#include "delivery/partition_registry.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"
#include "pipeline/backpressure.h"
#include "pipeline/pipeline.h"

namespace sluice {

// sluice's side of the consumer group's rebalances. An assigned partition joins the registry.
// A revoked one is released at once: what is done is stored (the unassign commits it), what
// is still in flight is dropped, and it is unassigned within the rebalance callback. Holding
// the unassign back to let its deliveries finish would stall every other partition of this
// member: librdkafka pauses the whole assignment until that call. And finishing them here
// would not spare the next owner anything, since it starts from the commit made at the
// unassign and cannot wait for a later one; dropping them keeps it to one delivery each rather
// than two at once. A lost partition (another member may own it already) is dropped the same
// way, with nothing stored.
class Rebalance final : public RebalanceListener {
 public:
  // `consumer` may still be under construction: it is used from the first callback on.
  Rebalance(KafkaConsumer& consumer, PartitionRegistry& partitions, Backpressure& backpressure,
            Pipeline& pipeline, OffsetStore& offsets, SinkProgress& progress);

  void onAssign(const rd_kafka_topic_partition_list_t& partitions) override;
  void onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) override;

  // An assignment (possibly empty) arrived: we are a group member.
  bool joined() const { return joined_; }

 private:
  void release(const rd_kafka_topic_partition_list_t& partitions, bool lost);
  void wakeKeptPartitions();

  KafkaConsumer& consumer_;
  PartitionRegistry& partitions_;
  Backpressure& backpressure_;
  Pipeline& pipeline_;
  OffsetStore& offsets_;
  SinkProgress& progress_;
  bool joined_ = false;
};

}  // namespace sluice
