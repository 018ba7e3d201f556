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

Rebalance::Rebalance(Scheduler& scheduler, KafkaConsumer& consumer, PartitionRegistry& partitions,
                     Backpressure& backpressure, Pipeline& pipeline, OffsetStore& offsets,
                     Millis drain_budget)
    : scheduler_(scheduler),
      consumer_(consumer),
      partitions_(partitions),
      backpressure_(backpressure),
      pipeline_(pipeline),
      offsets_(offsets),
      drain_budget_(drain_budget) {}

void Rebalance::onAssign(const rd_kafka_topic_partition_list_t& partitions) {
  consumer_.incrementalAssign(partitions);
  joined_ = true;
  if (partitions.cnt > 0) {
    // librdkafka 2.0 keeps an application pause across unassign and a later re-assign of the
    // same partition (librdkafka#1849): a partition sluice paused while revoking it would
    // come back paused and never be read again. Start every assigned partition resumed; the
    // pauses sluice wants now are applied just below.
    RdPartitionListPtr fresh(rd_kafka_topic_partition_list_copy(&partitions));
    consumer_.resume(*fresh);
  }
  std::vector<PartitionState*> added;
  for (int i = 0; i < partitions.cnt; ++i) {
    added.push_back(partitions_.add(partitions.elems[i].topic, partitions.elems[i].partition).get());
  }
  backpressure_.reconcile(added);  // re-applies a pause sluice is in the middle of
  // Cooperative rebalances end with an assign call that may add nothing.
  if (partitions.cnt == 0) return;
  spdlog::info("assigned {} partition(s): {} (now {})", partitions.cnt, describe(partitions),
               partitions_.size());
}

void Rebalance::onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) {
  if (lost || release_at_once_) {
    release(partitions, lost);
    return;
  }
  // Defer the unassign: stop dispatching these partitions, give their in-flight deliveries
  // the drain budget to finish, then store the final offsets and unassign.
  std::vector<PartitionStatePtr> states;
  std::vector<PartitionState*> revoking;
  for (int i = 0; i < partitions.cnt; ++i) {
    const auto& e = partitions.elems[i];
    if (auto state = partitions_.find(e.topic, e.partition)) {
      state->revoking = true;
      revoking.push_back(state.get());
      states.push_back(std::move(state));
    }
  }
  backpressure_.reconcile(revoking);
  if (revoke_) {
    spdlog::warn("revoking {} more partition(s) while a revoke is pending: {}; one unassign "
                 "for both, within the first one's drain budget",
                 partitions.cnt, describe(partitions));
  } else {
    revoke_.emplace();
    deadline_ = scheduler_.runAfter(drain_budget_, [this] {
      deadline_ = 0;
      // Timers run before the round's routing: events finished in this round (a sink's last
      // answer) are done, not left for the next owner. Routing may finish the revoke itself.
      pipeline_.route();
      finish();
    });
    spdlog::info("revoking {} partition(s): {}; draining their in-flight events",
                 partitions.cnt, describe(partitions));
  }
  revoke_->add(partitions, states);
  finishIfDrained();
}

// Lost: another member may already own these; nothing of ours may be stored for them.
// Leaving the group: everything was drained or dropped already; store what is done.
void Rebalance::release(const rd_kafka_topic_partition_list_t& partitions, bool lost) {
  for (int i = 0; i < partitions.cnt; ++i) {
    auto state = partitions_.find(partitions.elems[i].topic, partitions.elems[i].partition);
    if (state) pipeline_.abandon(state.get());
  }
  if (!lost) offsets_.store();
  for (int i = 0; i < partitions.cnt; ++i) {
    partitions_.remove(partitions.elems[i].topic, partitions.elems[i].partition);
    if (revoke_) revoke_->remove(partitions.elems[i].topic, partitions.elems[i].partition);
  }
  consumer_.incrementalUnassign(partitions);
  spdlog::info("{} {} partition(s): {}", lost ? "lost" : "released", partitions.cnt,
               describe(partitions));
}

void Rebalance::finishIfDrained() {
  if (revoke_ && revoke_->drained()) finish();
}

void Rebalance::finish() {
  if (!revoke_) return;
  PendingRevoke pending = std::move(*revoke_);
  revoke_.reset();
  if (deadline_ != 0) scheduler_.cancel(deadline_);
  deadline_ = 0;
  std::size_t left = 0;
  for (const auto& s : pending.states()) left += pipeline_.abandon(s.get());
  // Store before unassigning: librdkafka refuses stores for unassigned partitions, and it
  // commits the stored offsets of the partitions it unassigns.
  offsets_.store();
  for (const auto& s : pending.states()) {
    if (partitions_.find(s->topic, s->partition) == s) partitions_.remove(s->topic, s->partition);
  }
  if (!pending.empty()) consumer_.incrementalUnassign(pending.partitions());
  const int count = pending.partitions().cnt;
  if (left > 0) {
    spdlog::warn("released {} partition(s) with {} undelivered or held events left for the "
                 "next owner",
                 count, left);
  } else {
    spdlog::info("released {} partition(s), drained", count);
  }
}

}  // namespace sluice
