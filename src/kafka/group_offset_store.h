#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "kafka/rd_handles.h"
#include "util/unique_fd.h"

namespace sluice {

// Where GroupOffsetStores leave their answers for the event loop: an eventfd it watches and
// a list it takes under a lock.
class GroupOffsetAnswers {
 public:
  struct Answer {
    std::uint64_t request = 0;      // what list() or commit() returned
    std::string error;              // the request failed as a whole; empty if it came back
    RdPartitionListPtr partitions;  // offsets, metadata and per-partition errors
  };

  GroupOffsetAnswers();  // throws at start-up (no eventfd)
  int fd() const { return wake_fd_.get(); }
  std::uint64_t nextRequest();
  void post(Answer answer);  // any thread
  std::vector<Answer> take();  // the loop thread, when fd() is readable

 private:
  UniqueFd wake_fd_;
  std::mutex mutex_;
  std::vector<Answer> answers_;
  std::uint64_t next_request_ = 1;
};

// The committed offsets of one consumer group, read and written on a thread of its own.
//
// Why not the Admin API (List/AlterConsumerGroupOffsets) from the event loop: in librdkafka
// 2.0.2 an admin request that times out while waiting for its group coordinator crashes the
// process (rdkafka_admin.c: the request's and the coordinator lookup's timeouts both release
// one enq-once, "eonce->refcnt > 0"), and with a long timeout a request sent after a broker
// restart can wait for its coordinator for good, so the handle never finishes destroying.
// The consumer-group path has neither bug: a commit waiting for a coordinator fails after
// session.timeout.ms (rdkafka_cgrp.c, rd_kafka_cgrp_timeout_scan), an offset fetch without a
// coordinator answers at once, and rd_kafka_committed() takes a deadline. That path is
// synchronous for reads, hence the thread: it waits on librdkafka's queues, never on a socket.
class GroupOffsetStore {
 public:
  // Reads the group of `member` (sluice's own) through the member's handle; commits are not
  // for this one. `member` must outlive the store.
  GroupOffsetStore(rd_kafka_t* member, GroupOffsetAnswers& answers);
  // For `group`, a group without members (the sinks' progress): a consumer handle of its own
  // that never subscribes, with the connection and security settings of `kafka`.
  GroupOffsetStore(const KafkaConfig& kafka, const std::string& group, GroupOffsetAnswers& answers);
  // Drops queued reads, finishes queued commits (each bounded by librdkafka's timeouts).
  ~GroupOffsetStore();
  GroupOffsetStore(const GroupOffsetStore&) = delete;
  GroupOffsetStore& operator=(const GroupOffsetStore&) = delete;

  // The committed offsets (and metadata) of these partitions, answered by `deadline`.
  std::uint64_t list(const rd_kafka_topic_partition_list_t& partitions,
                     std::chrono::steady_clock::time_point deadline);
  // Commits these offsets with their metadata (generation -1: the group has no members).
  std::uint64_t commit(const rd_kafka_topic_partition_list_t& offsets);

 private:
  struct Job {
    std::uint64_t request = 0;
    bool commit = false;
    RdPartitionListPtr partitions;
    std::chrono::steady_clock::time_point deadline;
  };
  void start();
  void work();
  GroupOffsetAnswers::Answer read(Job& job);
  GroupOffsetAnswers::Answer write(Job& job);

  RdKafkaPtr own_;  // null when reading the member's group
  rd_kafka_t* rk_;
  GroupOffsetAnswers& answers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice
