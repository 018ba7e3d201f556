#include "metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>
#include <unordered_map>

namespace sluice {

namespace {

// Mirrors a running total into a prometheus counter (which only goes up by increments).
void mirror(prometheus::Counter& counter, std::uint64_t total) {
  const double now = static_cast<double>(total);
  if (now > counter.Value()) counter.Increment(now - counter.Value());
}

prometheus::Histogram::BucketBoundaries latencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// The HELP text of every family, by name: kept in one table, so that the families below
// read one per line.
const std::map<std::string_view, std::string_view> kHelp = {
    {"sluice_events_consumed_total", "Records taken from Kafka, by topic"},
    {"sluice_deliveries_total",
     "Finished deliveries by sink and outcome (accepted, dead_lettered, skipped: the sink "
     "had the event before a restart or a handover)"},
    {"sluice_delivery_attempts_total", "HTTP requests sent, by sink"},
    {"sluice_delivery_retries_total", "Failed attempts that were retried or given up, by sink"},
    {"sluice_delivery_duration_seconds", "Duration of one HTTP attempt, by sink"},
    {"sluice_end_to_end_latency_seconds",
     "From the record's Kafka timestamp until every sink accepted it"},
    {"sluice_sink_in_flight_requests", "Requests in flight, by sink"},
    {"sluice_sink_concurrency_limit",
     "Requests a sink may have in flight now: adapted to its latency and back-pressure up to "
     "max_in_flight (concurrency: adaptive), or max_in_flight (fixed)"},
    {"sluice_sink_backlog_events",
     "Events not yet accepted by the sink (queued, in flight or backing off)"},
    {"sluice_sink_backlog_bytes", "Payload bytes of the events the sink has not accepted yet"},
    {"sluice_sink_oldest_undelivered_age_seconds",
     "Age of the oldest event the sink has not accepted; the sink with the largest value holds "
     "the commits back"},
    {"sluice_sink_circuit_open", "1 while the sink's circuit is open (one probe at a time)"},
    {"sluice_in_flight_events", "Events taken from Kafka and not yet done"},
    {"sluice_in_flight_bytes", "Payload bytes of the events in flight"},
    {"sluice_held_events",
     "Events invalid or given up on with no dead_letter topic to go to: each holds its "
     "partition's commit until it is fixed by hand"},
    {"sluice_paused_partitions",
     "Assigned partitions sluice has paused (back-pressure, revoke, shutdown)"},
    {"sluice_fetch_stalled_partitions",
     "Assigned partitions sluice holds nothing back from that librdkafka has fetched nothing "
     "for in 30 s while records wait or it does not fetch them at all: their events wait "
     "(nothing is lost), the log names them"},
    {"sluice_committable_offset",
     "Offset stored for commit per partition (every record below it is done)"},
    {"sluice_consumer_lag_messages",
     "Records in the partition after the stored offset (librdkafka statistics)"},
    {"sluice_committed_offset",
     "Offset the broker acknowledged as the group's commit, per assigned partition (librdkafka "
     "statistics)"},
    {"sluice_dead_letters_total", "Records acknowledged on the dead-letter topic, by reason"},
    {"sluice_rebalances_total", "Rebalance callbacks (assign and revoke)"},
    {"sluice_kafka_brokers_up", "Kafka broker connections up (0: Kafka unreachable)"},
    {"sluice_commit_failures_total", "Offset commits that failed (retried by the next commit)"},
    {"sluice_kafka_fetched_bytes_total",
     "Message bytes fetched from the brokers (librdkafka statistics, every 5 s); above the "
     "bytes consumed when partitions are paused and fetched again"},
    {"sluice_build_info", "Always 1; the version is in the label"},
    {"sluice_transform_duration_seconds",
     "Time one transform took for one event on a worker thread, by transform"},
    {"sluice_transform_results_total",
     "Transform runs by transform and result (ok, dropped, routed, failed)"},
    {"sluice_transform_reloads_total",
     "Module reloads by transform and result (ok, unchanged, failed: the old version stays)"},
    {"sluice_transform_module_info", "Always 1; the module in force per transform, by sha256"},
    {"sluice_transform_queue_events", "Transform jobs (an event for the pipeline transform, or for one sink's) waiting for a worker or inside one"},
};

std::string help(const std::string& name) { return std::string(kHelp.at(name)); }

// One family each (the three builders share no base).
Family<Counter>& counters(prometheus::Registry& r, const std::string& name) {
  return prometheus::BuildCounter().Name(name).Help(help(name)).Register(r);
}
Family<Gauge>& gauges(prometheus::Registry& r, const std::string& name) {
  return prometheus::BuildGauge().Name(name).Help(help(name)).Register(r);
}
Family<Histogram>& histograms(prometheus::Registry& r, const std::string& name) {
  return prometheus::BuildHistogram().Name(name).Help(help(name)).Register(r);
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::vector<std::string> sinks;

  Family<Counter>& consumed = counters(*registry, "sluice_events_consumed_total");
  Family<Counter>& deliveries = counters(*registry, "sluice_deliveries_total");
  Family<Counter>& attempts = counters(*registry, "sluice_delivery_attempts_total");
  Family<Counter>& retries = counters(*registry, "sluice_delivery_retries_total");
  Family<Histogram>& delivery_latency = histograms(*registry, "sluice_delivery_duration_seconds");
  Family<Histogram>& e2e_latency = histograms(*registry, "sluice_end_to_end_latency_seconds");
  Family<Gauge>& in_flight_requests = gauges(*registry, "sluice_sink_in_flight_requests");
  Family<Gauge>& concurrency_limit = gauges(*registry, "sluice_sink_concurrency_limit");
  Family<Gauge>& backlog = gauges(*registry, "sluice_sink_backlog_events");
  Family<Gauge>& backlog_bytes = gauges(*registry, "sluice_sink_backlog_bytes");
  Family<Gauge>& oldest = gauges(*registry, "sluice_sink_oldest_undelivered_age_seconds");
  Family<Gauge>& circuit = gauges(*registry, "sluice_sink_circuit_open");
  Family<Gauge>& in_flight_events = gauges(*registry, "sluice_in_flight_events");
  Family<Gauge>& in_flight_bytes = gauges(*registry, "sluice_in_flight_bytes");
  Family<Gauge>& held = gauges(*registry, "sluice_held_events");
  Family<Gauge>& paused = gauges(*registry, "sluice_paused_partitions");
  Family<Gauge>& fetch_stalled = gauges(*registry, "sluice_fetch_stalled_partitions");
  Family<Gauge>& committable = gauges(*registry, "sluice_committable_offset");
  Family<Gauge>& lag = gauges(*registry, "sluice_consumer_lag_messages");
  Family<Gauge>& committed = gauges(*registry, "sluice_committed_offset");
  Family<Counter>& dead_letters = counters(*registry, "sluice_dead_letters_total");
  Family<Counter>& rebalances = counters(*registry, "sluice_rebalances_total");
  Family<Gauge>& brokers_up = gauges(*registry, "sluice_kafka_brokers_up");
  Family<Counter>& commit_failures = counters(*registry, "sluice_commit_failures_total");
  Family<Counter>& fetched_bytes = counters(*registry, "sluice_kafka_fetched_bytes_total");
  Family<Gauge>& build_info = gauges(*registry, "sluice_build_info");
  Family<Histogram>& transform_latency =
      histograms(*registry, "sluice_transform_duration_seconds");
  Family<Counter>& transform_results = counters(*registry, "sluice_transform_results_total");
  Family<Counter>& transform_reloads = counters(*registry, "sluice_transform_reloads_total");
  Family<Gauge>& transform_module = gauges(*registry, "sluice_transform_module_info");
  Family<Gauge>& transform_queue = gauges(*registry, "sluice_transform_queue_events");
  // Looked up without allocating: a transform result is counted per event.
  struct TransformSeries {
    prometheus::Histogram* latency = nullptr;
    std::map<std::string_view, prometheus::Counter*> results;  // keys: static strings
  };
  std::map<std::string, TransformSeries, std::less<>> transform_series;
  std::map<std::string, std::pair<std::string, prometheus::Gauge*>> module_series;

  // Series of the partitions this process owns; a partition it no longer owns must vanish,
  // or sums over replicas would count it twice.
  struct PartitionSeries {
    prometheus::Gauge* committable = nullptr;
    prometheus::Gauge* lag = nullptr;
    prometheus::Gauge* committed = nullptr;
  };
  std::map<std::pair<std::string, std::int32_t>, PartitionSeries> partition_series;

  void setPartition(const MetricsSnapshot::Partition& p) {
    PartitionSeries& series = partition_series[{p.topic, p.partition}];
    const prometheus::Labels labels{{"topic", p.topic}, {"partition", std::to_string(p.partition)}};
    set(committable, series.committable, labels, p.committable);
    set(lag, series.lag, labels, p.lag);
    set(committed, series.committed, labels, p.committed);
  }

  // A value below 0 is unknown: no series rather than a made-up number.
  static void set(prometheus::Family<prometheus::Gauge>& family, prometheus::Gauge*& gauge,
                  const prometheus::Labels& labels, std::int64_t value) {
    if (value < 0) {
      if (gauge != nullptr) family.Remove(gauge);
      gauge = nullptr;
      return;
    }
    if (gauge == nullptr) gauge = &family.Add(labels);
    gauge->Set(static_cast<double>(value));
  }

  void dropPartitionsNotIn(const std::vector<MetricsSnapshot::Partition>& owned) {
    for (auto it = partition_series.begin(); it != partition_series.end();) {
      const bool still_owned = std::any_of(owned.begin(), owned.end(), [&](const auto& p) {
        return p.topic == it->first.first && p.partition == it->first.second;
      });
      if (still_owned) {
        ++it;
        continue;
      }
      set(committable, it->second.committable, {}, -1);
      set(lag, it->second.lag, {}, -1);
      set(committed, it->second.committed, {}, -1);
      it = partition_series.erase(it);
    }
  }

  std::vector<prometheus::Histogram*> delivery_histograms;
  prometheus::Histogram* e2e = nullptr;
};

Metrics::Metrics(const std::vector<std::string>& sink_names, const std::string& version)
    : impl_(std::make_unique<Impl>()) {
  impl_->sinks = sink_names;
  for (const auto& name : sink_names) {
    impl_->delivery_histograms.push_back(
        &impl_->delivery_latency.Add({{"sink", name}}, latencyBuckets()));
  }
  impl_->e2e = &impl_->e2e_latency.Add({}, latencyBuckets());
  impl_->build_info.Add({{"version", version}}).Set(1);
}

Metrics::~Metrics() = default;

void Metrics::observeDelivery(std::uint32_t sink, double seconds) {
  if (sink < impl_->delivery_histograms.size()) impl_->delivery_histograms[sink]->Observe(seconds);
}

void Metrics::observeEndToEnd(double seconds) { impl_->e2e->Observe(seconds); }

void Metrics::observeTransform(std::string_view transform, const char* result, double seconds) {
  Impl& m = *impl_;
  auto it = m.transform_series.find(transform);
  if (it == m.transform_series.end()) {
    static const prometheus::Histogram::BucketBoundaries kBuckets{
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
        0.005,   0.01,     0.025,   0.05,   0.1,     0.25,   0.5,   1,     2.5};
    it = m.transform_series.emplace(std::string(transform), Impl::TransformSeries{}).first;
    it->second.latency = &m.transform_latency.Add({{"transform", it->first}}, kBuckets);
  }
  it->second.latency->Observe(seconds);
  auto& c = it->second.results[result];
  if (c == nullptr) c = &m.transform_results.Add({{"transform", it->first}, {"result", result}});
  c->Increment();
}

void Metrics::observeReload(const std::string& transform, const char* result) {
  impl_->transform_reloads.Add({{"transform", transform}, {"result", result}}).Increment();
}

void Metrics::observeCompletedRecord(std::int64_t record_timestamp_ms) {
  if (record_timestamp_ms < 0) return;
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  // A producer's clock ahead of ours would make the age negative: count it as no delay.
  observeEndToEnd(static_cast<double>(std::max<std::int64_t>(0, now_ms - record_timestamp_ms)) /
                  1000.0);
}

std::string Metrics::render(const MetricsSnapshot& s) {
  Impl& m = *impl_;
  for (const auto& [topic, n] : s.consumed_by_topic) mirror(m.consumed.Add({{"topic", topic}}), n);
  for (std::size_t i = 0; i < s.sinks.size() && i < m.sinks.size(); ++i) {
    const auto& k = s.sinks[i];
    const std::string& name = m.sinks[i];
    mirror(m.deliveries.Add({{"sink", name}, {"outcome", "accepted"}}), k.accepted);
    mirror(m.deliveries.Add({{"sink", name}, {"outcome", "dead_lettered"}}), k.gave_up);
    mirror(m.deliveries.Add({{"sink", name}, {"outcome", "skipped"}}), k.skipped);
    mirror(m.attempts.Add({{"sink", name}}), k.attempts);
    mirror(m.retries.Add({{"sink", name}}), k.failed_attempts);
    m.in_flight_requests.Add({{"sink", name}}).Set(static_cast<double>(k.in_flight_requests));
    m.concurrency_limit.Add({{"sink", name}}).Set(static_cast<double>(k.concurrency_limit));
    m.backlog.Add({{"sink", name}}).Set(static_cast<double>(k.backlog_events));
    m.backlog_bytes.Add({{"sink", name}}).Set(static_cast<double>(k.backlog_bytes));
    m.oldest.Add({{"sink", name}}).Set(k.oldest_undelivered_seconds);
    m.circuit.Add({{"sink", name}}).Set(k.circuit_open ? 1 : 0);
  }
  m.in_flight_events.Add({}).Set(static_cast<double>(s.in_flight_events));
  m.in_flight_bytes.Add({}).Set(static_cast<double>(s.in_flight_bytes));
  m.held.Add({}).Set(static_cast<double>(s.held_events));
  double paused = 0;
  double fetch_stalled = 0;
  m.dropPartitionsNotIn(s.partitions);
  for (const auto& p : s.partitions) {
    if (p.paused) ++paused;
    if (p.fetch_stalled) ++fetch_stalled;
    m.setPartition(p);
  }
  m.paused.Add({}).Set(paused);
  m.fetch_stalled.Add({}).Set(fetch_stalled);
  for (const auto& [reason, n] : s.dead_letters_by_reason) {
    mirror(m.dead_letters.Add({{"reason", reason}}), n);
  }
  mirror(m.rebalances.Add({}), s.rebalances);
  if (s.kafka_brokers_up >= 0) m.brokers_up.Add({}).Set(s.kafka_brokers_up);
  mirror(m.commit_failures.Add({}), s.commit_failures);
  mirror(m.fetched_bytes.Add({}), s.fetched_bytes);
  for (const auto& [transform, sha] : s.transform_modules) {
    auto& [shown, gauge] = m.module_series[transform];
    if (shown == sha && gauge != nullptr) continue;
    if (gauge != nullptr) m.transform_module.Remove(gauge);  // the old version's series goes
    gauge = &m.transform_module.Add({{"transform", transform}, {"sha256", sha}});
    gauge->Set(1);
    shown = sha;
  }
  if (!s.transform_modules.empty()) {
    m.transform_queue.Add({}).Set(static_cast<double>(s.transform_queue));
  }
  return prometheus::TextSerializer().Serialize(m.registry->Collect());
}

}  // namespace sluice
