#include "app/pending_revoke.h"

#include <algorithm>

namespace sluice {

PendingRevoke::PendingRevoke() : partitions_(rd_kafka_topic_partition_list_new(4)) {}

void PendingRevoke::add(const rd_kafka_topic_partition_list_t& partitions,
                        const std::vector<PartitionStatePtr>& states) {
  for (int i = 0; i < partitions.cnt; ++i) {
    const auto& p = partitions.elems[i];
    if (rd_kafka_topic_partition_list_find(partitions_.get(), p.topic, p.partition) == nullptr) {
      rd_kafka_topic_partition_list_add(partitions_.get(), p.topic, p.partition);
    }
  }
  for (const auto& s : states) {
    if (std::find(states_.begin(), states_.end(), s) == states_.end()) states_.push_back(s);
  }
}

void PendingRevoke::remove(const char* topic, std::int32_t partition) {
  rd_kafka_topic_partition_list_del(partitions_.get(), topic, partition);
  std::erase_if(states_, [&](const PartitionStatePtr& s) {
    return s->partition == partition && s->topic == topic;
  });
}

bool PendingRevoke::drained() const {
  return std::all_of(states_.begin(), states_.end(), [](const PartitionStatePtr& s) {
    return s->offsets.outstanding() <= s->held_events;
  });
}

}  // namespace sluice
