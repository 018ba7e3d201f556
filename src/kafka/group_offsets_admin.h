#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "kafka/rd_handles.h"
#include "util/unique_fd.h"

namespace sluice {

// Reads and writes the committed offsets of consumer groups other than sluice's own (groups
// without members) through librdkafka's Admin API on the consumer's handle. Nothing blocks:
// results arrive on a queue of their own, which signals an eventfd for the event loop.
class GroupOffsetsAdmin {
 public:
  struct Result {
    std::uint64_t request = 0;  // what list() or alter() returned
    std::string error;          // the request failed as a whole; empty if it came back
    RdPartitionListPtr partitions;  // offsets, metadata and per-partition errors
  };

  // `rk` must outlive this object. `timeout`: how long a request may take before it fails.
  GroupOffsetsAdmin(rd_kafka_t* rk, std::chrono::milliseconds timeout);
  ~GroupOffsetsAdmin();
  GroupOffsetsAdmin(const GroupOffsetsAdmin&) = delete;
  GroupOffsetsAdmin& operator=(const GroupOffsetsAdmin&) = delete;

  int fd() const { return wake_fd_.get(); }
  // The committed offsets (and metadata) of `group` for these partitions.
  std::uint64_t list(const std::string& group, const rd_kafka_topic_partition_list_t& partitions);
  // Commits these offsets (with their metadata) for `group`, which must have no members.
  std::uint64_t alter(const std::string& group, const rd_kafka_topic_partition_list_t& offsets);
  // Every result that has arrived (reads the eventfd back first: librdkafka signals it only
  // when the queue turns non-empty, so the queue is emptied each time).
  std::vector<Result> take();

 private:
  rd_kafka_t* rk_;
  std::chrono::milliseconds timeout_;
  UniqueFd wake_fd_;
  RdQueuePtr queue_;
  std::uint64_t next_request_ = 1;
};

}  // namespace sluice
