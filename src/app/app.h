#pragma once

#include <memory>

#include "app/fetch_stall_alarm.h"
#include "app/offset_store.h"
#include "app/rebalance.h"
#include "app/shutdown.h"
#include "app/signals.h"
#include "app/sink_progress.h"
#include "app/stats.h"
#include "app/status_endpoints.h"
#include "config/config.h"
#include "delivery/partition_registry.h"
#include "http/curl_multi_transport.h"
#include "http/status_server.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"
#include "metrics/metrics.h"
#include "pipeline/backpressure.h"
#include "pipeline/counters.h"
#include "pipeline/dead_letters.h"
#include "pipeline/dispatch_stage.h"
#include "pipeline/intake.h"
#include "pipeline/pipeline.h"
#include "pipeline/transform_stage.h"
#include "pipeline/validate_stage.h"
#include "transform/module_watcher.h"
#include "transform/transform_loader.h"
#include "transform/transform_reloader.h"

namespace sluice {

// The composition root: builds the rooms (src/README.md) and wires them onto one event loop.
// It decides nothing itself.
class App final {
 public:
  // Throws at start-up (bad settings, no eventfd, ...). `transforms`: loadTransforms()'s.
  App(Config config, LoadedTransforms transforms);
  ~App();

  // Runs until SIGTERM/SIGINT (or a fatal Kafka error); returns the process exit code.
  int run();

 private:
  void housekeeping();
  void writeSinkProgress();
  void watchTransformModules();

  Config config_;
  TerminationSignals signals_;  // first: blocks signals before librdkafka starts threads
  EventLoop loop_;
  PipelineCounters counters_;
  PartitionRegistry partitions_;
  std::unique_ptr<Metrics> metrics_;  // null when the status port is off
  DispatchStage dispatch_;
  CurlMultiTransport transport_;
  Backpressure backpressure_;
  DeadLetters dead_letters_;
  ValidateStage validate_;
  LoadedTransforms transforms_;
  std::unique_ptr<TransformPool> transform_pool_;    // null without transforms
  std::unique_ptr<TransformStage> transform_stage_;
  std::unique_ptr<TransformReloader> reloader_;
  std::unique_ptr<ModuleWatcher> module_watcher_;
  Scheduler::TimerId reload_timer_ = 0;
  Pipeline pipeline_;
  OffsetStore offsets_;
  SinkProgress sink_progress_;
  Intake intake_;
  Rebalance rebalance_;
  Shutdown shutdown_;
  FetchStallAlarm fetch_stalls_;
  StatusEndpoints status_;
  StatsLine stats_line_;
  std::unique_ptr<StatusServer> status_server_;
  // Last: destroyed first, so a rebalance callback fired while librdkafka closes it still
  // finds every other member alive. The rooms above hold references to it from the start
  // and use it only once it exists (from the first loop round on).
  KafkaConsumer consumer_;
};

}  // namespace sluice
