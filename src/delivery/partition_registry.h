#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "delivery/offset_tracker.h"

namespace sluice {

// Everything sluice keeps about one assigned partition. Shared with in-flight events so that a
// completion arriving after the partition was dropped finds `active == false` and is ignored.
struct PartitionState {
  PartitionState(std::string t, std::int32_t p) : topic(std::move(t)), partition(p) {}
  const std::string topic;
  const std::int32_t partition;
  OffsetTracker offsets;
  bool active = true;    // false once revoked or lost
  bool paused = false;   // what sluice asked librdkafka, re-applied after assign
  bool over_limit = false;  // in-flight above this partition's high mark (until the low mark)
  std::uint32_t in_flight_events = 0;
  std::uint64_t in_flight_bytes = 0;
  // Of those, events that cannot finish by themselves (no dead-letter topic, or one that
  // refuses them): a drain does not wait for them.
  std::uint32_t held_events = 0;
  std::int64_t stored = -1;  // last offset handed to rd_kafka_offsets_store
};
using PartitionStatePtr = std::shared_ptr<PartitionState>;

struct StoreRequest {
  PartitionStatePtr partition;
  std::int64_t offset;
};

class PartitionRegistry {
 public:
  PartitionStatePtr add(const std::string& topic, std::int32_t partition);
  PartitionStatePtr find(const std::string& topic, std::int32_t partition) const;
  // Marks the partition inactive and forgets it; returns it (null if unknown).
  PartitionStatePtr remove(const std::string& topic, std::int32_t partition);

  // Partitions whose committable offset moved past what was last stored.
  std::vector<StoreRequest> pendingStores() const;

  std::size_t size() const { return partitions_.size(); }
  template <class Fn>
  void forEach(Fn&& fn) const {
    for (const auto& [key, state] : partitions_) fn(state);
  }

 private:
  std::map<std::pair<std::string, std::int32_t>, PartitionStatePtr> partitions_;
};

}  // namespace sluice
