#include "pipeline/intake.h"

#include <spdlog/spdlog.h>

namespace sluice {
namespace {

constexpr int kMaxMessagesPerRound = 1000;  // keeps curl's sockets served while Kafka floods

}  // namespace

Intake::Intake(KafkaConsumer& consumer, PartitionRegistry& partitions, Pipeline& pipeline,
               Backpressure& backpressure, PipelineCounters& counters, const Scheduler& clock,
               std::function<void()> on_fatal)
    : consumer_(consumer),
      partitions_(partitions),
      pipeline_(pipeline),
      backpressure_(backpressure),
      counters_(counters),
      clock_(clock),
      on_fatal_(std::move(on_fatal)) {}

void Intake::pull(bool force) {
  for (int i = 0; i < kMaxMessagesPerRound && polling_; ++i) {
    // At the in-flight budget nothing is taken: what was prefetched waits in librdkafka's
    // queue. A forced pull (housekeeping, to serve rebalances and max.poll.interval.ms) polls
    // only once every partition is paused and polling takes no events (Backpressure).
    if (backpressure_.overGlobalLimit() && !(force && backpressure_.pausedForGlobalLimit())) {
      return;
    }
    RdMessagePtr msg = consumer_.poll();
    if (!msg) return;
    take(std::move(msg));
  }
}

void Intake::take(RdMessagePtr msg) {
  if (msg->err) {
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    spdlog::warn("kafka consume error: {}", rd_kafka_message_errstr(msg.get()));
    if (msg->err == RD_KAFKA_RESP_ERR__FATAL) on_fatal_();
    return;
  }
  const std::string topic = rd_kafka_topic_name(msg->rkt);
  PartitionStatePtr state = partitions_.find(topic, msg->partition);
  // Not dispatching leaves the offset uncommitted, so whoever owns the partition next reads
  // this record again: dropping here is safe, dispatching a partition no longer ours is not.
  if (!state || !admitting_) return;
  if (!state->offsets.dispatched(msg->offset)) {
    spdlog::warn("{}[{}]: offset {} arrived out of order; already dispatched past it", topic,
                 msg->partition, msg->offset);
    return;
  }
  for (auto& sink : state->sink_offsets) sink.dispatched(msg->offset);
  auto event = std::make_unique<Event>();
  event->partition = std::move(state);
  event->offset = msg->offset;
  event->timestamp_ms = rd_kafka_message_timestamp(msg.get(), nullptr);
  event->adoptRecord(*msg);  // the message (and its hold on the fetch buffer) ends here
  event->received_at = clock_.now();
  ++counters_.consumed;
  ++consumed_by_topic_[topic];
  pipeline_.admit(std::move(event));
}

}  // namespace sluice
