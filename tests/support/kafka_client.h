#pragma once

// Kafka operations the tests, the demo and the benchmarks need around sluice: create a topic,
// produce numbered JSON events, read a group's committed offsets and a topic's end offsets.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice::testing {

using PartitionOffsets = std::map<std::int32_t, std::int64_t>;

// Creates the topic (replication 1); an existing topic with that name is an error unless
// `allow_existing`. Waits until its metadata shows every partition. Throws on failure.
// `configs`: topic configs such as max.message.bytes.
void createTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                 bool allow_existing = false,
                 const std::map<std::string, std::string>& configs = {});

// Deletes the topics, best effort (those that do not exist, or a broker that does not answer
// within `timeout`, are no error): tests and benchmarks make a topic per run, and the local
// broker's disk would otherwise fill up over a few hundred runs.
void deleteTopics(const std::string& bootstrap, const std::vector<std::string>& topics,
                  std::chrono::milliseconds timeout);

struct RawRecord {
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;  // last value per name
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::int64_t timestamp_ms = -1;  // as read back (CreateTime: when the producer made it)
};

// Produces records exactly as given (any bytes), each to `partition`, acks=all; returns the
// offset each was written at.
std::vector<std::int64_t> produceRaw(const std::string& bootstrap, const std::string& topic,
                                     std::int32_t partition, const std::vector<RawRecord>& records);

// Reads a topic from the beginning (no group) until `count` records arrived or `timeout`
// passed.
std::vector<RawRecord> readTopic(const std::string& bootstrap, const std::string& topic,
                                 std::size_t count, std::chrono::milliseconds timeout);

struct ProduceOptions {
  std::int64_t count = 0;
  std::int64_t first_seq = 0;
  int partitions = 1;          // events are spread round-robin over 0..partitions-1
  std::size_t body_bytes = 0;  // pads the JSON body to about this size
  double rate_per_sec = 0;     // 0: as fast as possible
  std::int64_t key_cardinality = 0;  // >0: key is "k" + seq % N (repeating keys); else unique
  std::atomic<std::int64_t>* acked = nullptr;  // set: counts each acknowledged event as it comes
};

// Produces `count` events {"seq":N,...} with acks=all and waits for every delivery report.
// Returns how many were produced to each partition. Throws if any delivery failed.
PartitionOffsets produceEvents(const std::string& bootstrap, const std::string& topic,
                               const ProduceOptions& options);

PartitionOffsets endOffsets(const std::string& bootstrap, const std::string& topic,
                            int partitions);

// The group's committed offsets (-1001 where none is committed).
PartitionOffsets committedOffsets(const std::string& bootstrap, const std::string& group,
                                  const std::string& topic, int partitions);

// Sets a group's committed offsets, as an operator does to have events delivered again. The
// group must have no members (sluice stopped). Throws on failure.
void commitGroupOffsets(const std::string& bootstrap, const std::string& group,
                        const std::string& topic, const PartitionOffsets& offsets);

}  // namespace sluice::testing
