#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// What the process knows at scrape time; counters are running totals since start.
struct MetricsSnapshot {
  struct Sink {
    std::uint64_t accepted = 0;
    std::uint64_t failed_attempts = 0;
    std::uint64_t gave_up = 0;  // handed to the dead-letter path
    std::uint64_t skipped = 0;  // not sent: the sink had it (sink progress)
    std::uint64_t attempts = 0;
    std::uint64_t in_flight_requests = 0;
    std::uint64_t concurrency_limit = 0;    // requests it may have in flight now
    std::uint64_t backlog_events = 0;       // queued, in flight or backing off
    std::uint64_t backlog_bytes = 0;        // their payload bytes
    double oldest_undelivered_seconds = 0;  // 0 when nothing is waiting for this sink
    bool circuit_open = false;
  };
  struct Partition {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t committable = -1;  // last offset handed to the committer, -1 if none
    bool paused = false;
    std::int64_t lag = -1;        // from librdkafka statistics, -1 if not known yet
    std::int64_t committed = -1;  // acknowledged by the broker (statistics), -1 if none
    bool fetch_stalled = false;   // see kafka/fetch_stall.h
  };
  std::vector<Sink> sinks;  // in config order
  std::vector<Partition> partitions;
  std::map<std::string, std::uint64_t> consumed_by_topic;
  std::map<std::string, std::uint64_t> dead_letters_by_reason;
  std::uint64_t in_flight_events = 0;
  std::uint64_t in_flight_bytes = 0;
  std::uint64_t held_events = 0;  // undeliverable, no dead-letter topic: holding their commits
  std::uint64_t rebalances = 0;
  std::uint64_t commit_failures = 0;
  std::uint64_t fetched_bytes = 0;
  int kafka_brokers_up = -1;  // -1: not known yet
  // Transforms in force: (transform, module sha256), and events waiting for or inside one.
  std::vector<std::pair<std::string, std::string>> transform_modules;
  std::uint64_t transform_queue = 0;
};

// The Prometheus side of sluice (prefix sluice_), the only place that includes prometheus-cpp.
// Totals are mirrored from the snapshot at each scrape; latency histograms are observed as
// they happen.
class Metrics {
 public:
  Metrics(const std::vector<std::string>& sink_names, const std::string& version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void observeDelivery(std::uint32_t sink, double seconds);  // one HTTP attempt, any outcome
  void observeEndToEnd(double seconds);  // record timestamp -> every sink accepted
  // The same, from the record's Kafka timestamp (ms since the epoch; negative: none) to now.
  void observeCompletedRecord(std::int64_t record_timestamp_ms);

  // One transform run (transform: "pipeline" or a sink's name; result: ok, dropped, routed,
  // failed) and one reload outcome (ok, unchanged, failed), as they happen (loop thread).
  // `result` must be a string literal (kept as a key).
  void observeTransform(std::string_view transform, const char* result, double seconds);
  void observeReload(const std::string& transform, const char* result);

  // Prometheus text exposition format (version 0.0.4).
  std::string render(const MetricsSnapshot& snapshot);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
