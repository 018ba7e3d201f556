#pragma once

#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "app/signals.h"
#include "app/stats.h"
#include "config/config.h"
#include "delivery/dispatcher.h"
#include "delivery/partition_registry.h"
#include "http/curl_multi_transport.h"
#include "http/status_server.h"
#include "app/dead_letters.h"
#include "app/pending_revoke.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"
#include "metrics/metrics.h"
#include "validate/validator.h"

namespace sluice {

// The composition root: wires the Kafka consumer, the validator, the dispatcher, the curl
// transport and the dead-letter producer onto one event loop, and owns the decisions that
// join them: what may be committed, when to pause, how a revoke drains, how shutdown ends.
class App final : private RebalanceListener {
 public:
  explicit App(Config config);  // throws at start-up (bad settings, no eventfd, ...)
  ~App() override;

  // Runs until SIGTERM/SIGINT (or a fatal Kafka error); returns the process exit code.
  int run();

 private:
  enum class Phase { kRunning, kDraining, kClosing };

  void onAssign(const rd_kafka_topic_partition_list_t& partitions) override;
  void onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) override;

  void onKafkaWake();
  void drainKafka(bool force);
  void handleMessage(RdMessagePtr msg);
  std::string idempotencyKeyFor(const rd_kafka_message_t& msg, const std::string& topic);
  void onDispatched(EventPtr event);
  void complete(Event& event);
  void storeOffsets();

  void sendToDeadLetter(EventPtr event, DeadLetterReason why);
  void onDeadLettered(EventPtr event);
  void onHeld(const PartitionState& p);

  // In-flight accounting and the pause decisions that follow from it.
  void admit(Event& event);
  void release(const Event& event);
  void updateGlobalLimit();
  // The events' bytes (payload and key) and what the dispatcher copied of them (batches).
  std::uint64_t inFlightBytes() const { return in_flight_bytes_ + dispatcher_.copiedBytes(); }
  void updatePartitionLimit(PartitionState& p);
  bool wantsPause(const PartitionState& p) const;
  void reconcilePause(const std::vector<PartitionState*>& partitions);
  void reconcileAllPauses();
  // Drops what sluice holds for one partition (or all) without completing it.
  std::size_t abandon(const PartitionState* partition);

  void checkRevokeDone();
  void finishRevoke();

  void onSignal();
  void checkDrained();
  void finishDrain();

  void housekeeping();
  StatsSample sample() const;
  StatusServer::Response serveStatus(std::string_view path);
  MetricsSnapshot metricsSnapshot() const;

  Config config_;
  TerminationSignals signals_;  // first: blocks signals before librdkafka starts threads
  EventLoop loop_;
  Validator validator_;
  PartitionRegistry partitions_;
  Dispatcher dispatcher_;
  CurlMultiTransport transport_;
  DeadLetters dead_letters_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<StatusServer> status_;
  bool joined_ = false;
  bool finishing_drain_ = false;  // an assignment (possibly empty) arrived: we are a group member
  std::unordered_map<std::string, std::uint64_t> consumed_by_topic_;

  Phase phase_ = Phase::kRunning;
  bool over_global_limit_ = false;
  std::uint64_t in_flight_events_ = 0;  // taken from Kafka, not yet complete
  std::uint64_t in_flight_bytes_ = 0;
  std::optional<PendingRevoke> revoke_;
  Scheduler::TimerId revoke_deadline_ = 0;
  Scheduler::TimerId grace_timer_ = 0;
  int exit_code_ = 0;
  PipelineCounters counters_;
  StatsSample first_sample_;
  StatsSample last_stats_;
  TimePoint next_stats_{};
  TimePoint next_store_{};
  // Last: destroyed first, so a rebalance callback fired while librdkafka closes it still
  // finds every other member alive.
  KafkaConsumer consumer_;
};

}  // namespace sluice
