#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "config/config.h"
#include "delivery/event.h"
#include "delivery/partition_registry.h"

namespace sluice {

// Counts what is in flight (events taken from Kafka and not yet finished, in all and per
// partition) and decides from it when to stop taking events and which partitions to pause.
//
// At the global budget sluice first only stops reading: what librdkafka prefetched (at most
// queued.max.messages.kbytes) waits in its queue, and reading goes on once 10% of the budget
// is free. Only when the budget stays full for kPauseAfter (a sink down, not a burst) are the
// partitions paused, until half of it is free: librdkafka discards what it had prefetched for
// a paused partition and fetches it again on resume (pausing loses nothing, but costs a
// fetch), and the consumer can then be polled (rebalances, max.poll.interval.ms) without
// taking events. A partition over its own budget is paused at once (one shared queue cannot
// be read around it).
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

  static constexpr Millis kPauseAfter{2000};

  // At the in-flight budget: take nothing more from Kafka until 10% of it is free.
  bool overGlobalLimit() const { return over_global_limit_; }
  // Every partition is paused for the global budget: polling takes no events now.
  bool pausedForGlobalLimit() const { return global_paused_; }
  // Pauses every partition once the budget has been full for kPauseAfter; call it often.
  void tick(TimePoint now);
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
  bool global_paused_ = false;
  TimePoint full_since_{};  // when over_global_limit_ last turned true
  std::uint64_t in_flight_events_ = 0;
  std::uint64_t in_flight_bytes_ = 0;
};

}  // namespace sluice
