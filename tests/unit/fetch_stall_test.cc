#include "kafka/fetch_stall.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice {
namespace {

using namespace std::chrono_literals;

PartitionStats stats(std::int32_t partition, std::int64_t next, std::int64_t end,
                     std::uint64_t fetched, std::string state = "active", bool leader_up = true) {
  PartitionStats st;
  st.topic = "t";
  st.partition = partition;
  st.next_offset = next;
  st.end_offset = end;
  st.fetched_messages = fetched;
  st.fetch_state = std::move(state);
  st.leader_up = leader_up;
  return st;
}

// Statistics every 5 s, as librdkafka's default here.
class FetchStallWatchTest : public ::testing::Test {
 protected:
  std::vector<FetchStallWatch::Change> report(const std::vector<PartitionStats>& s) {
    now += 5s;
    return watch.update(now, s, [this](const std::string&, std::int32_t p) {
      return held.contains(p);
    });
  }
  FetchStallWatch watch;
  TimePoint now{};
  std::set<std::int32_t> held;
};

TEST_F(FetchStallWatchTest, APartitionNeverFetchedStallsAfterThirtySecondsAndSaysSo) {
  // Partition 7 never gets a fetch answer (end offset unknown, stuck before its first fetch);
  // partition 1 is caught up and idle: that is no stall.
  std::vector<FetchStallWatch::Change> changes;
  for (int i = 0; i < 6; ++i) {
    changes = report({stats(1, 500, 500, 500), stats(7, -1, -1, 0, "offset-query")});
    EXPECT_TRUE(changes.empty()) << "report " << i;
  }
  changes = report({stats(1, 500, 500, 500), stats(7, -1, -1, 0, "offset-query")});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].partition, 7);
  EXPECT_TRUE(changes[0].stalled);
  EXPECT_NE(changes[0].detail.find("no fetch answer yet, fetch state offset-query, leader "
                                   "connected"),
            std::string::npos)
      << changes[0].detail;
  EXPECT_TRUE(watch.stalled("t", 7));
  EXPECT_FALSE(watch.stalled("t", 1));
  EXPECT_EQ(watch.stalledCount(), 1u);
  // Said once, not at every report.
  EXPECT_TRUE(report({stats(1, 500, 500, 500), stats(7, -1, -1, 0)}).empty());
  // It fetches again: recovered, said once.
  changes = report({stats(1, 500, 500, 500), stats(7, 100, 900, 100)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].stalled);
  EXPECT_EQ(watch.stalledCount(), 0u);
}

TEST_F(FetchStallWatchTest, RecordsBehindAndNothingFetchedIsAStallProgressIsNot) {
  for (std::uint64_t i = 0; i < 10; ++i) {
    // Partition 2 fetches a little every time: slow, not stalled.
    EXPECT_TRUE(report({stats(2, 100 + 10 * i, 5000, 100 + 10 * i)}).empty());
  }
  std::vector<FetchStallWatch::Change> changes;
  for (int i = 0; i < 7; ++i) changes = report({stats(2, 300, 5000, 300)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_NE(changes[0].detail.find("4700 records behind"), std::string::npos) << changes[0].detail;
}

TEST_F(FetchStallWatchTest, CaughtUpButNotFetchingIsAStall) {
  // Its leader's connection is down: new records would not come, though the offsets it last
  // saw say it is caught up. Partition 6, caught up and fetching, is fine.
  std::vector<FetchStallWatch::Change> changes;
  for (int i = 0; i < 7; ++i) {
    changes = report({stats(5, 800, 800, 800, "active", false), stats(6, 800, 800, 800)});
  }
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].partition, 5);
  EXPECT_NE(changes[0].detail.find("0 records behind (next offset 800, end offset 800), fetch "
                                   "state active, leader not connected"),
            std::string::npos)
      << changes[0].detail;
  // The same for a fetch state other than active, long after the assignment.
  for (int i = 0; i < 6; ++i) changes = report({stats(6, 800, 800, 800, "none")});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].partition, 6);
}

TEST_F(FetchStallWatchTest, AMovingNextOffsetIsProgress) {
  // Aborted transactions: the next offset moves, no message is fetched.
  for (std::int64_t i = 0; i < 20; ++i) {
    EXPECT_TRUE(report({stats(8, 100 + i, 5000, 100)}).empty()) << "report " << i;
  }
}

TEST_F(FetchStallWatchTest, WhatSluiceHoldsBackItselfIsNoStall) {
  held.insert(3);  // paused by back-pressure, or sluice reads nothing at its budget
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(report({stats(3, 100, 5000, 100)}).empty());
  // Released: the thirty seconds start again from here.
  held.clear();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(report({stats(3, 100, 5000, 100)}).empty());
  EXPECT_EQ(report({stats(3, 100, 5000, 100)}).size(), 1u);
}

TEST_F(FetchStallWatchTest, HeldBackBetweenReportsCountsAndEndsAStall) {
  report({stats(9, 100, 5000, 100)});
  // Paused most of the time between reports, quiet only after: no stall 30 s after the first
  // report, but 30 s after the last hold.
  for (int i = 0; i < 6; ++i) {
    held.insert(9);
    EXPECT_TRUE(watch.hold(now + 4s, [this](const std::string&, std::int32_t p) {
      return held.contains(p);
    }).empty());
    held.clear();
    EXPECT_TRUE(report({stats(9, 100, 5000, 100)}).empty()) << "report " << i;
  }
  std::vector<FetchStallWatch::Change> changes;
  for (int i = 0; i < 6; ++i) changes = report({stats(9, 100, 5000, 100)});
  ASSERT_EQ(changes.size(), 1u);
  // Paused now: no longer stalled, said at once.
  held.insert(9);
  changes = watch.hold(now + 1s, [this](const std::string&, std::int32_t p) {
    return held.contains(p);
  });
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].stalled);
  EXPECT_FALSE(watch.stalled("t", 9));
}

TEST_F(FetchStallWatchTest, RevokedPartitionsAreForgotten) {
  for (int i = 0; i < 7; ++i) report({stats(4, -1, -1, 0)});
  ASSERT_TRUE(watch.stalled("t", 4));
  EXPECT_TRUE(report({}).empty());
  EXPECT_FALSE(watch.stalled("t", 4));
  EXPECT_EQ(watch.stalledCount(), 0u);
  // Assigned again later: a fresh start, not a stall carried over.
  EXPECT_TRUE(report({stats(4, -1, -1, 0)}).empty());
}

}  // namespace
}  // namespace sluice
