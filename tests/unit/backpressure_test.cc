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

TEST_F(BackpressureTest, EveryPartitionPausesAtTheGlobalLimitAndResumesAtHalf) {
  make({.max_events = 4});
  std::vector<EventPtr> events;
  for (int i = 0; i < 3; ++i) {
    events.push_back(event(p0, i));
    bp->admit(*events.back());
  }
  EXPECT_FALSE(bp->overGlobalLimit());
  EXPECT_TRUE(log.paused.empty());
  events.push_back(event(p1, 0));
  bp->admit(*events.back());
  EXPECT_TRUE(bp->overGlobalLimit());
  EXPECT_EQ(log.paused, (std::vector<std::string>{"t[0]", "t[1]"}));
  EXPECT_TRUE(p0->paused && p1->paused);
  bp->release(*events[0]);  // 3 left: above half, still paused
  EXPECT_TRUE(bp->overGlobalLimit());
  EXPECT_TRUE(log.resumed.empty());
  bp->release(*events[1]);  // 2 left: half
  EXPECT_FALSE(bp->overGlobalLimit());
  EXPECT_EQ(log.resumed, (std::vector<std::string>{"t[0]", "t[1]"}));
  EXPECT_EQ(bp->inFlightEvents(), 2u);
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
