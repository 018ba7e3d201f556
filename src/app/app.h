#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "app/signals.h"
#include "app/stats.h"
#include "config/config.h"
#include "delivery/dispatcher.h"
#include "delivery/partition_registry.h"
#include "http/curl_multi_transport.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"

namespace sluice {

// The composition root: wires the Kafka consumer, the dispatcher and the curl transport onto
// one event loop, and owns the decisions that join them: what may be committed, when to pause,
// how a revoke drains, how shutdown ends.
class App final : private RebalanceListener {
 public:
  explicit App(Config config);  // throws at start-up (bad settings, no eventfd, ...)
  ~App() override;

  // Runs until SIGTERM/SIGINT (or a fatal Kafka error); returns the process exit code.
  int run();

 private:
  enum class Phase { kRunning, kDraining, kClosing };
  struct PendingRevoke {
    RdPartitionListPtr partitions;
    std::vector<PartitionStatePtr> states;
    Scheduler::TimerId deadline = 0;
  };

  void onAssign(const rd_kafka_topic_partition_list_t& partitions) override;
  void onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) override;

  void onKafkaWake();
  void drainKafka(bool force);
  void handleMessage(RdMessagePtr msg);
  std::string idempotencyKeyFor(const rd_kafka_message_t& msg, const std::string& topic);
  void onEventDone(Event& event);
  void storeOffsets();

  void setPaused(bool paused);
  void checkRevokeDone();
  void finishRevoke();

  void onSignal();
  void checkDrained();
  void finishDrain();

  void housekeeping();
  StatsSample sample() const;

  Config config_;
  TerminationSignals signals_;  // first: blocks signals before librdkafka starts threads
  EventLoop loop_;
  PartitionRegistry partitions_;
  Dispatcher dispatcher_;
  CurlMultiTransport transport_;
  KafkaConsumer consumer_;

  Phase phase_ = Phase::kRunning;
  bool backpressure_paused_ = false;
  std::optional<PendingRevoke> revoke_;
  Scheduler::TimerId grace_timer_ = 0;
  int exit_code_ = 0;
  PipelineCounters counters_;
  StatsSample first_sample_;
  StatsSample last_stats_;
  TimePoint next_stats_{};
};

}  // namespace sluice
