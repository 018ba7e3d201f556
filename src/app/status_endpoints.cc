#include "app/status_endpoints.h"

#include "app/rebalance.h"
#include "app/shutdown.h"

namespace sluice {

StatusServer::Response readiness(const ReadinessInputs& in) {
  StatusServer::Response r;
  const bool ready = in.running && in.kafka_reachable && in.dead_letter_trouble.empty() &&
                     (in.partitions > 0 || (in.joined && in.ready_without_partitions));
  r.status = ready ? 200 : 503;
  r.body = ready                             ? "ready\n"
           : !in.running                     ? "stopping\n"
           : !in.kafka_reachable             ? "kafka unreachable: every broker is down\n"
           : !in.dead_letter_trouble.empty() ? in.dead_letter_trouble + "\n"
                                             : "no partitions assigned yet\n";
  return r;
}

StatusServer::Response StatusEndpoints::serve(std::string_view path) const {
  StatusServer::Response r;
  if (path == "/metrics" && metrics_ != nullptr) {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_->render(metricsSnapshot());
  } else if (path == "/healthz") {
    // Answered by the loop thread itself: if this arrives, the loop is turning.
    r.body = "ok\n";
  } else if (path == "/readyz") {
    r = readiness({in_.shutdown.phase() == Shutdown::Phase::kRunning,
                   in_.consumer.brokersUp() != 0, in_.dead_letters.trouble(),
                   in_.partitions.size(), in_.rebalance.joined(),
                   in_.config.ready_without_partitions});
  } else {
    r.status = 404;
    r.body = "try /metrics, /healthz or /readyz\n";
  }
  return r;
}

MetricsSnapshot StatusEndpoints::metricsSnapshot() const {
  MetricsSnapshot s;
  const Dispatcher& d = in_.dispatcher;
  const TimePoint now = in_.clock.now();
  for (std::size_t i = 0; i < d.sinkCount(); ++i) {
    const auto& c = d.counters(i);
    MetricsSnapshot::Sink k;
    k.accepted = c.delivered;
    k.failed_attempts = c.failed_attempts;
    k.gave_up = c.gave_up;
    k.skipped = c.skipped;
    k.attempts = c.attempts;
    k.in_flight_requests = d.sinkInFlight(i);
    k.concurrency_limit = d.concurrencyLimit(i);
    k.backlog_events = d.sinkBacklog(i);
    k.backlog_bytes = d.sinkBacklogBytes(i);
    if (auto oldest = d.oldestPending(i)) {
      k.oldest_undelivered_seconds = std::chrono::duration<double>(now - *oldest).count();
    }
    k.circuit_open = d.circuitOpen(i);
    s.sinks.push_back(k);
  }
  in_.partitions.forEach([&](const PartitionStatePtr& p) {
    MetricsSnapshot::Partition out{p->topic, p->partition, p->stored, p->paused};
    out.fetch_stalled = in_.fetch_stalls.watch().stalled(p->topic, p->partition);
    for (const auto& st : in_.consumer.partitionStats()) {
      if (st.partition == p->partition && st.topic == p->topic) {
        out.lag = st.lag;
        out.committed = st.committed;
      }
    }
    s.partitions.push_back(std::move(out));
  });
  const auto& consumed = in_.intake.consumedByTopic();
  s.consumed_by_topic.insert(consumed.begin(), consumed.end());
  s.dead_letters_by_reason = in_.dead_letters.writtenByReason();
  s.in_flight_events = in_.backpressure.inFlightEvents();
  s.in_flight_bytes = in_.backpressure.inFlightBytes();
  s.held_events = in_.dead_letters.held();
  s.rebalances = in_.consumer.counters().rebalances;
  s.fetched_bytes = in_.consumer.counters().fetched_bytes;
  s.commit_failures = in_.consumer.counters().commit_failures;
  s.kafka_brokers_up = in_.consumer.brokersUp();
  if (transform_pool_ != nullptr) {
    if (const TransformSetPtr set = transform_pool_->current()) {
      if (set->pipeline) s.transform_modules.emplace_back("pipeline", set->pipeline->module->sha256());
      for (const auto& slot : set->sinks) {
        if (slot) s.transform_modules.emplace_back(slot->name, slot->module->sha256());
      }
    }
    // Events waiting for or inside the pipeline transform, and sink transforms' jobs.
    s.transform_queue = (transform_stage_ ? transform_stage_->inside() : 0) +
                        (sink_transforms_ ? sink_transforms_->inside() : 0);
  }
  return s;
}

StatsSample StatusEndpoints::sample() const {
  StatsSample s;
  s.at = in_.clock.now();
  s.pipeline = in_.counters;
  s.in_flight = in_.backpressure.inFlightEvents();
  s.partitions = in_.partitions.size();
  s.commits_ok = in_.consumer.counters().commits_ok;
  s.fetched_bytes = in_.consumer.counters().fetched_bytes;
  s.commit_failures = in_.consumer.counters().commit_failures;
  const Dispatcher& d = in_.dispatcher;
  for (std::size_t i = 0; i < d.sinkCount(); ++i) {
    const auto& c = d.counters(i);
    s.sinks.push_back({d.sinkName(i), c.delivered, c.failed_attempts, d.sinkBacklog(i),
                       d.concurrencyLimit(i)});
  }
  return s;
}

}  // namespace sluice
