#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// One partition as librdkafka's statistics last saw it.
struct PartitionStats {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t lag = -1;  // end offset minus the stored offset (consumer_lag_stored); -1 unknown
  std::int64_t committed = -1;  // offset the broker acknowledged for the group, -1 none yet
  // What the fetch-stall watch needs (kafka/fetch_stall.h): librdkafka's fetch state
  // ("active", "offset-query", "none", ...); the next offset it will fetch; the end offset a
  // consumer can read to, from its last fetch answer (the last stable offset when that is
  // lower: records of an open transaction cannot be read yet); -1 where unknown. Whether the
  // partition's leader is a broker librdkafka has a connection up to; how many messages it
  // has fetched for it in all.
  std::string fetch_state;
  std::int64_t next_offset = -1;
  std::int64_t end_offset = -1;
  bool leader_up = false;
  std::uint64_t fetched_messages = 0;
};

struct ConsumerStatistics {
  std::optional<std::uint64_t> fetched_bytes;  // rxmsg_bytes: message bytes fetched in all
  std::optional<int> brokers_up;  // real broker connections up (not the logical coordinator)
  // Every partition of every topic it reports, assigned or not (librdkafka keeps revoked ones
  // a while, "stopped" or "none"): the caller knows which are assigned. Unset without topics.
  std::optional<std::vector<PartitionStats>> partitions;
};

// Reads a librdkafka statistics report (JSON); what is missing or malformed stays unset.
ConsumerStatistics parseStatistics(std::string_view json);

}  // namespace sluice
