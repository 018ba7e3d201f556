#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "delivery/offset_tracker.h"

namespace sluice {

// Everything sluice keeps about one assigned partition. Shared with in-flight events so that a
// completion arriving after the partition was dropped finds `active == false` and is ignored.
struct PartitionState {
  PartitionState(std::string t, std::int32_t p, std::size_t sinks = 0)
      : topic(std::move(t)), partition(p), sink_offsets(sinks), sink_written(sinks),
        resume_below(sinks, -1) {}
  const std::string topic;
  const std::int32_t partition;
  OffsetTracker offsets;
  // Per sink, the offsets it has yet to accept (taken in, and neither accepted by that sink
  // nor finished): each sink's own progress, ahead of `offsets` when another sink lags.
  std::vector<OffsetTracker> sink_offsets;
  // Progress last written per sink, and the group's committed offset it was written with
  // (-1: none yet): a record is written again when either moved.
  struct Written {
    std::int64_t offset = -1;
    std::int64_t committed = -1;
  };
  std::vector<Written> sink_written;
  // Loaded at assignment: sink s had accepted every event below resume_below[s] (-1: none
  // known), so those are not sent to it again.
  std::vector<std::int64_t> resume_below;
  bool progress_known = true;        // false while loading: its events wait before dispatch
  std::uint64_t progress_load = 0;   // which load is under way (a stale answer is ignored)
  // The group's committed offset as last read or reported (-1: none committed yet); unknown
  // until then, and no sink progress is written without it (a record carries it).
  std::optional<std::int64_t> committed;
  bool active = true;    // false once revoked or lost
  bool paused = false;   // what sluice asked librdkafka, re-applied after assign
  bool over_limit = false;  // in-flight above this partition's high mark (until the low mark)
  std::uint32_t in_flight_events = 0;
  std::uint64_t in_flight_bytes = 0;
  // Of those, events that cannot finish by themselves (no dead-letter topic, or one that
  // refuses them): a drain does not wait for them.
  std::uint32_t held_events = 0;
  std::int64_t stored = -1;  // last offset handed to rd_kafka_offsets_store

  // Every sink now has `offset` (accepted it, or the event is finished one way or another).
  void sinkDone(std::size_t sink, std::int64_t offset) {
    if (sink < sink_offsets.size()) sink_offsets[sink].completed(offset);
  }
};
using PartitionStatePtr = std::shared_ptr<PartitionState>;

struct StoreRequest {
  PartitionStatePtr partition;
  std::int64_t offset;
};

class PartitionRegistry {
 public:
  explicit PartitionRegistry(std::size_t sinks = 0) : sinks_(sinks) {}

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
  std::size_t sinks_;
  std::map<std::pair<std::string, std::int32_t>, PartitionStatePtr> partitions_;
};

}  // namespace sluice
