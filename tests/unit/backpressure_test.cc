#include "pipeline/backpressure.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

// Records what Backpressure asks of the consumer, as "t[0]" strings.
struct PauseLog {
  std::vector<std::string> paused, resumed;
  Backpressure::PausePort port() {
    return [this](rd_kafka_topic_partition_list_t& list, bool pause) {
      for (int i = 0; i < list.cnt; ++i) {
        (pause ? paused : resumed)
            .push_back(std::string(list.elems[i].topic) + "[" +
                       std::to_string(list.elems[i].partition) + "]");
      }
    };
  }
};

class BackpressureTest : public ::testing::Test {
 protected:
  void make(BackpressureConfig config) {
    bp = std::make_unique<Backpressure>(config, registry, log.port(), [this] { return extra; });
  }
  EventPtr event(const PartitionStatePtr& p, std::int64_t offset, std::size_t bytes = 10) {
    auto e = std::make_unique<Event>();
    e->partition = p;
    e->offset = offset;
    e->body = bodies.emplace_back(bytes, 'x');
    p->offsets.dispatched(offset);
    return e;
  }

  std::deque<std::string> bodies;
  PartitionRegistry registry;
  PartitionStatePtr p0 = registry.add("t", 0);
  PartitionStatePtr p1 = registry.add("t", 1);
  PauseLog log;
  std::uint64_t extra = 0;
  std::unique_ptr<Backpressure> bp;
};

// At the global budget reading stops, and goes on at 90%: no pause, so nothing librdkafka
// prefetched is thrown away and fetched again. Only a budget full for kPauseAfter pauses every
// partition, until half of it is free.
TEST_F(BackpressureTest, AtTheGlobalLimitReadingStopsAndOnlyALastingOnePauses) {
  make({.max_events = 10});
  std::vector<EventPtr> events;
  auto admit = [&](const PartitionStatePtr& p) {
    events.push_back(event(p, static_cast<std::int64_t>(events.size())));
    bp->admit(*events.back());
  };
  for (int i = 0; i < 9; ++i) admit(i % 2 ? p1 : p0);
  EXPECT_FALSE(bp->overGlobalLimit());
  admit(p0);
  EXPECT_TRUE(bp->overGlobalLimit());
  const TimePoint t0{std::chrono::seconds(100)};
  bp->tick(t0);
  bp->tick(t0 + Backpressure::kPauseAfter - Millis(1));
  EXPECT_TRUE(log.paused.empty());
  EXPECT_FALSE(bp->pausedForGlobalLimit());
  bp->release(*events[0]);  // 9 of 10: reading goes on
  EXPECT_FALSE(bp->overGlobalLimit());
  admit(p1);  // full again: the clock starts again
  EXPECT_TRUE(bp->overGlobalLimit());
  const TimePoint t1 = t0 + Backpressure::kPauseAfter + Millis(100);
  bp->tick(t1);
  bp->tick(t1 + Backpressure::kPauseAfter - Millis(1));
  EXPECT_TRUE(log.paused.empty());
  bp->tick(t1 + Backpressure::kPauseAfter);
  EXPECT_TRUE(bp->pausedForGlobalLimit());
  EXPECT_EQ(log.paused, (std::vector<std::string>{"t[0]", "t[1]"}));
  EXPECT_TRUE(p0->paused && p1->paused);
  for (int i = 1; i <= 4; ++i) bp->release(*events[static_cast<std::size_t>(i)]);  // 6 left
  EXPECT_FALSE(bp->overGlobalLimit());
  EXPECT_TRUE(log.resumed.empty());  // paused until half is free
  bp->release(*events[5]);           // 5 left: half
  EXPECT_FALSE(bp->pausedForGlobalLimit());
  EXPECT_EQ(log.resumed, (std::vector<std::string>{"t[0]", "t[1]"}));
  EXPECT_EQ(bp->inFlightEvents(), 5u);
}

TEST_F(BackpressureTest, APartitionOverItsOwnLimitPausesAlone) {
  make({.partition_max_bytes = 1024});
  auto big = event(p0, 0, 1000);
  bp->admit(*big);
  EXPECT_TRUE(log.paused.empty());
  auto more = event(p0, 1, 100);
  bp->admit(*more);
  EXPECT_EQ(log.paused, (std::vector<std::string>{"t[0]"}));
  EXPECT_FALSE(bp->overGlobalLimit());
  bp->release(*big);
  EXPECT_EQ(log.resumed, (std::vector<std::string>{"t[0]"}));
}

// A stage that changes an event's size (the key derived; a transform rewrote the body) moves
// the budgets with it, and release gives back what is held now, not what was admitted.
TEST_F(BackpressureTest, ResizedEventsGiveBackWhatTheyHoldNow) {
  make({});
  auto e = event(p0, 0, 100);
  bp->admit(*e);
  EXPECT_EQ(bp->inFlightBytes(), 100u);
  e->idempotency_key = std::string(20, 'k');
  bp->resize(*e);
  EXPECT_EQ(bp->inFlightBytes(), 120u);
  EXPECT_EQ(p0->in_flight_bytes, 120u);
  extra = 30;  // the dispatcher's copies count too
  EXPECT_EQ(bp->inFlightBytes(), 150u);
  extra = 0;
  bp->release(*e);
  EXPECT_EQ(bp->inFlightBytes(), 0u);
  EXPECT_EQ(p0->in_flight_bytes, 0u);
  EXPECT_EQ(p0->in_flight_events, 0u);
}

// A released partition (revoked or lost) is unassigned: it is never paused or resumed, whatever
// the budgets say. Stopping pauses every other one for good.
TEST_F(BackpressureTest, ReleasedPartitionsAreLeftAloneAndNothingResumesAfterStop) {
  make({.max_events = 2});
  registry.remove("t", 1);
  bp->reconcile({p0.get(), p1.get()});
  EXPECT_TRUE(log.paused.empty());
  bp->stopIntake();
  EXPECT_EQ(log.paused, (std::vector<std::string>{"t[0]"}));
  // Crossing the limits both ways resumes nothing once stopped.
  auto a = event(p0, 0);
  auto b = event(p0, 1);
  bp->admit(*a);
  bp->admit(*b);
  bp->release(*a);
  bp->release(*b);
  EXPECT_TRUE(log.resumed.empty());
}

}  // namespace
}  // namespace sluice
