#pragma once

#include <string>
#include <string_view>

#include "app/fetch_stall_alarm.h"
#include "app/stats.h"
#include "config/config.h"
#include "delivery/dispatcher.h"
#include "delivery/partition_registry.h"
#include "http/status_server.h"
#include "kafka/kafka_consumer.h"
#include "metrics/metrics.h"
#include "pipeline/backpressure.h"
#include "pipeline/dead_letters.h"
#include "pipeline/intake.h"
#include "pipeline/sink_transforms.h"
#include "pipeline/transform_stage.h"
#include "transform/transform_pool.h"

namespace sluice {

class Rebalance;
class Shutdown;

// What readiness depends on.
struct ReadinessInputs {
  bool running = true;              // not shutting down
  bool kafka_reachable = true;      // some broker connection is up
  std::string dead_letter_trouble{};  // why the dead-letter topic refuses events, if it does
  std::size_t partitions = 0;       // assigned
  bool joined = false;              // an assignment (possibly empty) arrived
  bool ready_without_partitions = false;
};

// /readyz: ready while running, with Kafka reachable, with partitions (or, if so configured,
// once joined) and a dead-letter topic that takes what it is given; otherwise 503 and why.
StatusServer::Response readiness(const ReadinessInputs& in);

// What sluice tells about itself: /metrics, /healthz and /readyz on the status port, and the
// samples behind the periodic stats line. Reads the other rooms; changes none of them.
class StatusEndpoints {
 public:
  struct Sources {
    const MetricsConfig& config;
    const Dispatcher& dispatcher;
    const PartitionRegistry& partitions;
    const KafkaConsumer& consumer;
    const DeadLetters& dead_letters;
    const Backpressure& backpressure;
    const Intake& intake;
    const PipelineCounters& counters;
    const Rebalance& rebalance;
    const Shutdown& shutdown;
    const FetchStallAlarm& fetch_stalls;
    const Scheduler& clock;
  };

  // `metrics`: null when the status port is off (only samples are taken then).
  StatusEndpoints(Sources sources, Metrics* metrics) : in_(sources), metrics_(metrics) {}

  // Transforms, when the config has any (they are made after this room).
  // `stage`, `sinks`: null when there is no pipeline transform, no sink transform.
  void watchTransforms(const TransformPool* pool, const TransformStage* stage,
                       const SinkTransforms* sinks) {
    transform_pool_ = pool;
    transform_stage_ = stage;
    sink_transforms_ = sinks;
  }

  StatusServer::Response serve(std::string_view path) const;
  MetricsSnapshot metricsSnapshot() const;
  StatsSample sample() const;

 private:
  Sources in_;
  Metrics* metrics_;
  const TransformPool* transform_pool_ = nullptr;
  const TransformStage* transform_stage_ = nullptr;
  const SinkTransforms* sink_transforms_ = nullptr;
};

}  // namespace sluice
