#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "config/config.h"
#include "delivery/event.h"
#include "delivery/partition_registry.h"

namespace sluice {

// Counts what is in flight (events taken from Kafka and not yet finished, in all and per
// partition) and decides from it which partitions to pause. librdkafka discards what it had
// prefetched for a paused partition and fetches it again on resume, so pausing loses nothing.
class Backpressure {
 public:
  // Pauses (pause = true) or resumes the listed partitions at the consumer.
  using PausePort = std::function<void(rd_kafka_topic_partition_list_t& partitions, bool pause)>;
  // Bytes held beyond the events themselves (the dispatcher's batch bodies), counted too.
  using ExtraBytes = std::function<std::uint64_t()>;

  Backpressure(const BackpressureConfig& config, PartitionRegistry& partitions, PausePort pause,
               ExtraBytes extra_bytes);

  void admit(Event& event);
  // A stage changed the event's size (its key was derived; a transform rewrote its body).
  void resize(Event& event);
  void release(const Event& event);

  // Above the in-flight budget: take nothing more from Kafka until it is below half.
  bool overGlobalLimit() const { return over_global_limit_; }
  // Shutting down: every partition stays paused from now on.
  void stopIntake();

  // Brings the consumer's pauses in line with what sluice wants now (partitions were assigned).
  void reconcile(const std::vector<PartitionState*>& partitions);
  void reconcileAll();

  std::uint64_t inFlightEvents() const { return in_flight_events_; }
  std::uint64_t inFlightBytes() const { return in_flight_bytes_ + extra_bytes_(); }

 private:
  void updateGlobalLimit();
  void updatePartitionLimit(PartitionState& p);
  bool wantsPause(const PartitionState& p) const;

  BackpressureConfig config_;
  PartitionRegistry& partitions_;
  PausePort pause_;
  ExtraBytes extra_bytes_;
  bool stopped_ = false;
  bool over_global_limit_ = false;
  std::uint64_t in_flight_events_ = 0;
  std::uint64_t in_flight_bytes_ = 0;
};

}  // namespace sluice
