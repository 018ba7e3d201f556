#include "kafka/consumer_statistics.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

// Trimmed from a real librdkafka 2.0.2 report: two brokers (one down), the logical
// coordinator, and topic t with its internal partition -1, an assigned partition in the middle
// of an open transaction, and one librdkafka no longer fetches.
constexpr const char* kReport = R"({
  "rxmsg_bytes": 123456,
  "brokers": {
    "127.0.0.1:9092/1": {"nodeid": 1, "state": "UP", "source": "learned"},
    "127.0.0.1:9095/2": {"nodeid": 2, "state": "DOWN", "source": "learned"},
    "GroupCoordinator": {"nodeid": -1, "state": "UP", "source": "logical"}
  },
  "topics": {
    "t": {"partitions": {
      "-1": {"partition": -1, "leader": -1, "fetch_state": "none", "consumer_lag_stored": -1},
      "0": {"partition": 0, "leader": 1, "fetch_state": "active", "next_offset": 80,
            "hi_offset": 100, "ls_offset": 80, "consumer_lag_stored": 20,
            "committed_offset": 75, "rxmsgs": 80},
      "1": {"partition": 1, "leader": 2, "fetch_state": "none", "next_offset": -1001,
            "hi_offset": -1001, "ls_offset": -1001, "consumer_lag_stored": -1,
            "committed_offset": -1001, "rxmsgs": 0}
    }}
  }
})";

TEST(ConsumerStatistics, ReadsWhatTheMetricsAndTheFetchStallWatchNeed) {
  const ConsumerStatistics s = parseStatistics(kReport);
  EXPECT_EQ(s.fetched_bytes, 123456u);
  EXPECT_EQ(s.brokers_up, 1);  // the logical coordinator is no connection of its own
  ASSERT_TRUE(s.partitions);
  ASSERT_EQ(s.partitions->size(), 2u);  // not librdkafka's internal partition -1
  const PartitionStats& p0 = s.partitions->at(0);
  EXPECT_EQ(p0.topic, "t");
  EXPECT_EQ(p0.partition, 0);
  EXPECT_EQ(p0.lag, 20);
  EXPECT_EQ(p0.committed, 75);
  EXPECT_EQ(p0.fetch_state, "active");
  EXPECT_EQ(p0.next_offset, 80);
  EXPECT_EQ(p0.end_offset, 80) << "an open transaction's records cannot be read yet";
  EXPECT_TRUE(p0.leader_up);
  EXPECT_EQ(p0.fetched_messages, 80u);
  // Reported although librdkafka no longer fetches it: the caller decides what is assigned.
  const PartitionStats& p1 = s.partitions->at(1);
  EXPECT_EQ(p1.fetch_state, "none");
  EXPECT_EQ(p1.next_offset, -1);  // logical offsets are unknown
  EXPECT_EQ(p1.end_offset, -1);
  EXPECT_EQ(p1.committed, -1);
  EXPECT_FALSE(p1.leader_up) << "its leader's connection is down";
}

TEST(ConsumerStatistics, MalformedOrPartialReportsSetNothingTheyDoNotHave) {
  const ConsumerStatistics bad = parseStatistics("{\"topics\": ");
  EXPECT_FALSE(bad.fetched_bytes);
  EXPECT_FALSE(bad.brokers_up);
  EXPECT_FALSE(bad.partitions);
  const ConsumerStatistics no_topics = parseStatistics(R"({"rxmsg_bytes": 5, "brokers": {}})");
  EXPECT_EQ(no_topics.fetched_bytes, 5u);
  EXPECT_EQ(no_topics.brokers_up, 0);
  EXPECT_FALSE(no_topics.partitions) << "no topics: the last partitions stay as they were";
}

}  // namespace
}  // namespace sluice
