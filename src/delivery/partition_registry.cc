#include "delivery/partition_registry.h"

namespace sluice {

PartitionStatePtr PartitionRegistry::add(const std::string& topic, std::int32_t partition) {
  auto& slot = partitions_[{topic, partition}];
  if (slot) slot->active = false;  // a stale entry from an earlier assignment
  slot = std::make_shared<PartitionState>(topic, partition, sinks_);
  return slot;
}

PartitionStatePtr PartitionRegistry::find(const std::string& topic, std::int32_t partition) const {
  auto it = partitions_.find({topic, partition});
  return it == partitions_.end() ? nullptr : it->second;
}

PartitionStatePtr PartitionRegistry::remove(const std::string& topic, std::int32_t partition) {
  auto it = partitions_.find({topic, partition});
  if (it == partitions_.end()) return nullptr;
  auto state = std::move(it->second);
  partitions_.erase(it);
  state->active = false;
  return state;
}

std::vector<StoreRequest> PartitionRegistry::pendingStores() const {
  std::vector<StoreRequest> out;
  for (const auto& [key, state] : partitions_) {
    const auto offset = state->offsets.committable();
    if (offset && *offset > state->stored) out.push_back({state, *offset});
  }
  return out;
}

}  // namespace sluice
