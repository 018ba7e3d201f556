#include "app/rebalance.h"

#include <spdlog/spdlog.h>

namespace sluice {
namespace {

std::string describe(const rd_kafka_topic_partition_list_t& list) {
  std::string out;
  for (int i = 0; i < list.cnt; ++i) {
    if (!out.empty()) out += ' ';
    out += std::string(list.elems[i].topic) + "[" + std::to_string(list.elems[i].partition) + "]";
  }
  return out;
}

}  // namespace

Rebalance::Rebalance(KafkaConsumer& consumer, PartitionRegistry& partitions,
                     Backpressure& backpressure, Pipeline& pipeline, OffsetStore& offsets,
                     SinkProgress& progress)
    : consumer_(consumer),
      partitions_(partitions),
      backpressure_(backpressure),
      pipeline_(pipeline),
      offsets_(offsets),
      progress_(progress) {}

void Rebalance::onAssign(const rd_kafka_topic_partition_list_t& partitions) {
  consumer_.incrementalAssign(partitions);
  joined_ = true;
  if (partitions.cnt > 0) {
    // librdkafka 2.0 keeps an application pause across unassign and a later re-assign of the
    // same partition (librdkafka#1849): a partition sluice paused (back-pressure) before it
    // was revoked would come back paused and never be read again. Start every assigned
    // partition resumed; the pauses sluice wants now are applied just below.
    RdPartitionListPtr fresh(rd_kafka_topic_partition_list_copy(&partitions));
    consumer_.resume(*fresh);
  }
  wakeKeptPartitions();
  std::vector<PartitionState*> added;
  std::vector<PartitionStatePtr> fresh_states;
  for (int i = 0; i < partitions.cnt; ++i) {
    fresh_states.push_back(partitions_.add(partitions.elems[i].topic, partitions.elems[i].partition));
    added.push_back(fresh_states.back().get());
  }
  backpressure_.reconcile(added);  // re-applies a pause sluice is in the middle of
  progress_.load(fresh_states);
  // Cooperative rebalances end with an assign call that may add nothing.
  if (partitions.cnt == 0) return;
  spdlog::info("assigned {} partition(s): {} (now {})", partitions.cnt, describe(partitions),
               partitions_.size());
}

void Rebalance::wakeKeptPartitions() {
  // librdkafka paused every partition of this member while the rebalance callback waited, and
  // the assign or unassign call resumed them; but a broker thread left with nothing to fetch
  // sleeps up to a second, and a resume does not wake it (librdkafka 2.0.2: the resume only
  // clears a flag, rdkafka_partition.c). A seek does wake it, so each kept partition is sought
  // to where sluice goes on reading it. sluice's own position, not rd_kafka_position(): a seek
  // clears librdkafka's until the next message, and a revoke is followed by an assign at once
  // (cooperative protocol) with nothing read in between.
  if (partitions_.size() == 0) return;
  RdPartitionListPtr kept(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  partitions_.forEach([&](const PartitionStatePtr& p) {
    // A partition nothing was read from yet is still starting (offset lookup, first fetch):
    // the broker thread is woken by that work anyway.
    if (auto next = p->offsets.nextToRead()) {
      auto* entry = rd_kafka_topic_partition_list_add(kept.get(), p->topic.c_str(), p->partition);
      entry->offset = *next;
    }
  });
  consumer_.wakeFetchers(*kept);
}

void Rebalance::onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) {
  release(partitions, lost);
}

void Rebalance::release(const rd_kafka_topic_partition_list_t& partitions, bool lost) {
  // Stored first (unless lost: another member may own them already), so that the unassign
  // commits everything done below the first undelivered event.
  if (!lost) offsets_.store();
  // Each sink's progress too, so that the next owner sends no sink what it has (a true fact
  // even if another member owns them already; an answer after the handover is harmless).
  progress_.write(true);
  std::size_t dropped = 0;
  for (int i = 0; i < partitions.cnt; ++i) {
    auto state = partitions_.remove(partitions.elems[i].topic, partitions.elems[i].partition);
    if (state) dropped += pipeline_.abandon(state.get());
  }
  consumer_.incrementalUnassign(partitions);
  // The unassign resumed the partitions that stay, as an assign does (rdkafka_cgrp.c): the
  // same wake-up, or they may wait up to a second for the next assign of this rebalance.
  wakeKeptPartitions();
  spdlog::info("{} {} partition(s): {}; {} events in flight left for the next owner",
               lost ? "lost" : "revoked", partitions.cnt, describe(partitions), dropped);
}

}  // namespace sluice
