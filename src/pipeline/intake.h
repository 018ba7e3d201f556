#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "delivery/partition_registry.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"
#include "pipeline/backpressure.h"
#include "pipeline/counters.h"
#include "pipeline/pipeline.h"

namespace sluice {

// Takes records from the Kafka consumer and admits each as an event into the pipeline. A
// record it does not admit (its partition is gone, sluice is stopping) is not
// lost: its offset stays uncommitted, so whoever owns the partition next reads it again.
class Intake {
 public:
  Intake(KafkaConsumer& consumer, PartitionRegistry& partitions, Pipeline& pipeline,
         Backpressure& backpressure, PipelineCounters& counters, const Scheduler& clock,
         std::function<void()> on_fatal);

  // Takes what librdkafka has queued, up to a round's budget. Above the in-flight budget it
  // takes nothing unless `force`d: polling still serves the rebalance and commit callbacks,
  // which must run or the group evicts us.
  void pull(bool force);

  // Draining for shutdown: records still arriving are left for the next owner.
  void stopAdmitting() { admitting_ = false; }
  // Leaving the group: the consumer is closing and must not be polled any more.
  void stopPolling() { polling_ = false; }

  const std::unordered_map<std::string, std::uint64_t>& consumedByTopic() const {
    return consumed_by_topic_;
  }

 private:
  void take(RdMessagePtr msg);

  KafkaConsumer& consumer_;
  PartitionRegistry& partitions_;
  Pipeline& pipeline_;
  Backpressure& backpressure_;
  PipelineCounters& counters_;
  const Scheduler& clock_;
  std::function<void()> on_fatal_;
  bool admitting_ = true;
  bool polling_ = true;
  std::unordered_map<std::string, std::uint64_t> consumed_by_topic_;
};

}  // namespace sluice
