#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "kafka/consumer_statistics.h"
#include "kafka/rd_handles.h"
#include "util/unique_fd.h"

namespace sluice {

// Receives librdkafka's rebalance decisions; called on the loop thread from poll().
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void onAssign(const rd_kafka_topic_partition_list_t& partitions) = 0;
  // lost: the partitions were taken away (session timeout, fencing): their state must go now.
  virtual void onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) = 0;
};

struct KafkaCounters {
  std::uint64_t commits_ok = 0;
  std::uint64_t commit_failures = 0;
  std::uint64_t rebalances = 0;
  std::uint64_t consume_errors = 0;
  // Message bytes fetched from the brokers (librdkafka's rxmsg_bytes, from the statistics):
  // a partition paused and resumed is fetched again, and counts again.
  std::uint64_t fetched_bytes = 0;
};

// A consumer-group member on librdkafka's C API. The consumer queue (with the main queue
// forwarded into it, so rebalance and commit callbacks arrive there too) signals an eventfd
// when it goes from empty to non-empty; the event loop watches that fd and calls poll().
class KafkaConsumer {
 public:
  KafkaConsumer(const KafkaConfig& config, RebalanceListener& listener);  // throws at start-up
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  int wakeFd() const { return wake_fd_.get(); }
  void clearWake();  // reads the eventfd counter back to zero

  // Next message or error, or null when the queue is empty. Serves callbacks too.
  RdMessagePtr poll();

  void incrementalAssign(const rd_kafka_topic_partition_list_t& partitions);
  void incrementalUnassign(const rd_kafka_topic_partition_list_t& partitions);
  // Seeks these partitions, without waiting, to the offset each carries in the list: the
  // broker threads fetching them wake up at once.
  void wakeFetchers(rd_kafka_topic_partition_list_t& partitions);
  void pause(rd_kafka_topic_partition_list_t& partitions);
  void resume(rd_kafka_topic_partition_list_t& partitions);
  // Stores offsets for the auto-committer; returns how many elements failed.
  int storeOffsets(rd_kafka_topic_partition_list_t& offsets);
  bool assignmentLost();

  // Starts leaving the group without blocking; keep calling serveClose() on wakes until it
  // returns true.
  void beginClose();
  bool serveClose();
  bool closed() const { return closed_; }
  // Gives up on a clean close (broker unreachable): destruction will not wait for the group.
  void abandonClose() { skip_close_ = true; }

  // The handle, for reading the group's committed offsets off the loop (GroupOffsetStore).
  rd_kafka_t* handle() { return rk_.get(); }
  // Told each commit's outcome (per-partition errors in the list), on the loop thread.
  void observeCommits(std::function<void(const rd_kafka_topic_partition_list_t&)> observer) {
    on_committed_ = std::move(observer);
  }

  const KafkaCounters& counters() const { return counters_; }
  // From the latest librdkafka statistics (every statistics.interval.ms, 5 s by default):
  // every partition it reports, the assigned ones and any it still keeps after a revoke.
  const std::vector<PartitionStats>& partitionStats() const { return partition_stats_; }
  // Goes up by one with every statistics report taken in.
  std::uint64_t statsReports() const { return stats_reports_; }
  // Broker connections up: from the statistics, and 0 as soon as librdkafka reports every
  // broker down; -1 until the first statistics. A commit that succeeds while it is 0 sets it
  // to 1 (the coordinator answered) without waiting for the next statistics.
  int brokersUp() const { return brokers_up_; }
  // Told, on the loop thread, when brokersUp() turns 0 (false) and when it leaves 0 (true).
  void observeBrokers(std::function<void(bool reachable)> observer) {
    on_brokers_ = std::move(observer);
  }

 private:
  static void onRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void onCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque);
  void handleRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  static int onStats(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  static void onError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void setBrokersUp(int up);

  RebalanceListener& listener_;
  UniqueFd wake_fd_;
  RdKafkaPtr rk_;
  RdQueuePtr queue_;
  std::function<void(const rd_kafka_topic_partition_list_t&)> on_committed_;
  std::function<void(bool)> on_brokers_;
  bool closing_ = false;
  bool closed_ = false;
  bool skip_close_ = false;
  KafkaCounters counters_;
  std::vector<PartitionStats> partition_stats_;
  std::uint64_t stats_reports_ = 0;
  int brokers_up_ = -1;
};

}  // namespace sluice
