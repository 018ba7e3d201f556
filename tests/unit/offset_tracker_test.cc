#include "delivery/offset_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace sluice {
namespace {

TEST(OffsetTracker, NothingToCommitBeforeFirstDispatch) {
  OffsetTracker t;
  EXPECT_FALSE(t.committable().has_value());
}

TEST(OffsetTracker, CommitsLowestOutstandingWhenCompletedOutOfOrder) {
  OffsetTracker t;
  for (std::int64_t o = 10; o < 15; ++o) ASSERT_TRUE(t.dispatched(o));
  EXPECT_EQ(t.committable(), 10);
  EXPECT_TRUE(t.completed(12));
  EXPECT_TRUE(t.completed(13));
  EXPECT_EQ(t.committable(), 10);  // 10 is still undelivered
  EXPECT_TRUE(t.completed(10));
  EXPECT_EQ(t.committable(), 11);
  EXPECT_TRUE(t.completed(11));
  EXPECT_EQ(t.committable(), 14);
  EXPECT_TRUE(t.completed(14));
  EXPECT_EQ(t.committable(), 15);  // everything done: one past the last dispatched
  EXPECT_EQ(t.outstanding(), 0u);
}

TEST(OffsetTracker, SpanCountsEverythingHeldBehindAStuckOffset) {
  OffsetTracker t;
  for (std::int64_t o = 0; o < 100; ++o) ASSERT_TRUE(t.dispatched(o));
  for (std::int64_t o = 1; o < 100; ++o) ASSERT_TRUE(t.completed(o));
  EXPECT_EQ(t.outstanding(), 1u);
  EXPECT_EQ(t.span(), 100u);  // 99 completed slots wait behind offset 0
  ASSERT_TRUE(t.completed(0));
  EXPECT_EQ(t.span(), 0u);
  EXPECT_EQ(t.committable(), 100);
}

TEST(OffsetTracker, GapsInOffsetsAreFine) {
  OffsetTracker t;
  ASSERT_TRUE(t.dispatched(3));
  ASSERT_TRUE(t.dispatched(7));  // 4..6 compacted away or transaction markers
  EXPECT_TRUE(t.completed(7));
  EXPECT_EQ(t.committable(), 3);
  EXPECT_TRUE(t.completed(3));
  EXPECT_EQ(t.committable(), 8);
}

// Where reading goes on (the rebalance wake-up seeks there) follows what was dispatched, not
// what was delivered: an undelivered offset is still in sluice's hands, not to be read again.
TEST(OffsetTracker, NextToReadIsOnePastTheLastDispatched) {
  OffsetTracker t;
  EXPECT_FALSE(t.nextToRead().has_value());
  ASSERT_TRUE(t.dispatched(3));
  ASSERT_TRUE(t.dispatched(7));
  EXPECT_EQ(t.nextToRead(), 8);
  EXPECT_EQ(t.committable(), 3);
  EXPECT_TRUE(t.completed(3));
  EXPECT_TRUE(t.completed(7));
  EXPECT_EQ(t.nextToRead(), 8);
}

TEST(OffsetTracker, RefusesNonIncreasingDispatchAndUnknownCompletion) {
  OffsetTracker t;
  ASSERT_TRUE(t.dispatched(5));
  EXPECT_FALSE(t.dispatched(5));
  EXPECT_FALSE(t.dispatched(4));
  EXPECT_FALSE(t.completed(6));
  EXPECT_TRUE(t.completed(5));
  EXPECT_FALSE(t.completed(5));  // twice
  EXPECT_EQ(t.committable(), 6);
}

// Property: under any completion order the committable offset equals the model's answer (the
// smallest dispatched-but-not-completed offset, else last+1) and never moves backwards.
TEST(OffsetTracker, MatchesModelUnderRandomCompletionOrders) {
  std::mt19937_64 rng(20261124);
  for (int round = 0; round < 3000; ++round) {
    OffsetTracker t;
    std::set<std::int64_t> model_outstanding;
    std::vector<std::int64_t> pending;  // dispatched, not completed, in random order
    std::int64_t next = std::uniform_int_distribution<std::int64_t>(0, 1000)(rng);
    std::int64_t last_dispatched = -1;
    std::int64_t previous_committable = -1;
    const int steps = std::uniform_int_distribution<int>(1, 200)(rng);
    for (int s = 0; s < steps; ++s) {
      const bool dispatch = pending.empty() || std::bernoulli_distribution(0.55)(rng);
      if (dispatch) {
        next += std::uniform_int_distribution<std::int64_t>(1, 3)(rng);  // gaps allowed
        ASSERT_TRUE(t.dispatched(next));
        model_outstanding.insert(next);
        pending.push_back(next);
        last_dispatched = next;
      } else {
        const auto i = std::uniform_int_distribution<std::size_t>(0, pending.size() - 1)(rng);
        const std::int64_t o = pending[i];
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
        ASSERT_TRUE(t.completed(o));
        model_outstanding.erase(o);
      }
      const std::int64_t expected =
          model_outstanding.empty() ? last_dispatched + 1 : *model_outstanding.begin();
      ASSERT_EQ(t.committable(), expected) << "round " << round << " step " << s;
      ASSERT_GE(expected, previous_committable);
      ASSERT_EQ(t.outstanding(), model_outstanding.size());
      previous_committable = expected;
    }
  }
}

}  // namespace
}  // namespace sluice
