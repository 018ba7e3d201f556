#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace sluice {
namespace {

// A stage that keeps what it takes until the test finishes it, and records every call, so a
// test can see when (and whether nested) the pipeline calls it.
class HoldingStage final : public Stage {
 public:
  void take(EventPtr event) override {
    EXPECT_FALSE(busy_) << "take() re-entered";
    busy_ = true;
    taken.push_back(event->offset);
    if (pass_at_once) {
      exit().passed(std::move(event));
    } else {
      held.push_back(std::move(event));
    }
    busy_ = false;
  }
  std::vector<EventPtr> abandon(const PartitionState* partition) override {
    std::vector<EventPtr> out;
    std::erase_if(held, [&](EventPtr& e) {
      if (partition != nullptr && e->partition.get() != partition) return false;
      out.push_back(std::move(e));
      return true;
    });
    return out;
  }
  // Finishes the oldest held event, as an HTTP answer or a worker's result would, later.
  void passOldest() {
    EventPtr e = std::move(held.front());
    held.erase(held.begin());
    exit().passed(std::move(e));
  }
  void failOldest(const char* reason) {
    EventPtr e = std::move(held.front());
    held.erase(held.begin());
    DeadLetterReason why;
    why.reason = reason;
    exit().failed(std::move(e), std::move(why));
  }

  bool pass_at_once = false;
  std::vector<std::int64_t> taken;
  std::vector<EventPtr> held;

 private:
  bool busy_ = false;
};

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() {
    pipeline.add(first);
    pipeline.add(second);
    pipeline.onSettled([this] { ++settles; });
  }
  void admit(const PartitionStatePtr& p, std::int64_t offset) {
    auto e = std::make_unique<Event>();
    e->partition = p;
    e->offset = offset;
    e->body = bodies.emplace_back("{}");
    p->offsets.dispatched(offset);
    pipeline.admit(std::move(e));
  }

  std::deque<std::string> bodies;
  EventLoop loop;
  PartitionRegistry registry;
  PartitionStatePtr p0 = registry.add("t", 0);
  PartitionStatePtr p1 = registry.add("t", 1);
  Backpressure backpressure{BackpressureConfig{}, registry,
                            [](rd_kafka_topic_partition_list_t&, bool) {}, [] { return 0; }};
  PipelineCounters counters;
  // No dead-letter topic: failed events are held (no broker needed).
  DeadLetters dead_letters{loop, KafkaConfig{}, DeadLetterConfig{}, [](EventPtr) {},
                           [](const PartitionState&) {}};
  Pipeline pipeline{backpressure, dead_letters, counters, false};
  HoldingStage first, second;
  int settles = 0;
};

TEST_F(PipelineTest, EventsGoThroughTheStagesInOrderOnlyWhenRouted) {
  first.pass_at_once = true;
  admit(p0, 0);
  admit(p0, 1);
  // The first stage finished both inside take(); the second sees them only at route().
  EXPECT_EQ(first.taken, (std::vector<std::int64_t>{0, 1}));
  EXPECT_TRUE(second.taken.empty());
  pipeline.route();
  EXPECT_EQ(second.taken, (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(backpressure.inFlightEvents(), 2u);
  EXPECT_EQ(p0->offsets.committable(), 0);
}

// A stage finishes events later and out of order (a response, a worker thread's result):
// the commit point moves only past events that completed every stage.
TEST_F(PipelineTest, AStageMayFinishEventsLaterAndOutOfOrder) {
  first.pass_at_once = true;
  for (int i = 0; i < 3; ++i) admit(p0, i);
  pipeline.route();
  ASSERT_EQ(second.held.size(), 3u);
  std::swap(second.held[0], second.held[2]);  // finish 2, then 1, then 0
  second.passOldest();
  second.passOldest();
  EXPECT_EQ(counters.completed, 0u);  // queued, not yet moved on
  pipeline.route();
  EXPECT_EQ(counters.completed, 2u);
  EXPECT_EQ(p0->offsets.committable(), 0);
  EXPECT_GE(settles, 1);
  second.passOldest();
  pipeline.route();
  EXPECT_EQ(counters.completed, 3u);
  EXPECT_EQ(p0->offsets.committable(), 3);
  EXPECT_EQ(backpressure.inFlightEvents(), 0u);
}

TEST_F(PipelineTest, AFailedEventGoesToTheDeadLetterPathAndSkipsTheRest) {
  admit(p0, 0);
  first.failOldest("invalid_json");
  pipeline.route();
  EXPECT_TRUE(second.taken.empty());
  // No dead-letter topic: held, its commit waits, and it still counts as in flight.
  EXPECT_EQ(counters.held, 1u);
  EXPECT_EQ(dead_letters.held(), 1u);
  EXPECT_EQ(backpressure.inFlightEvents(), 1u);
  EXPECT_EQ(p0->offsets.committable(), 0);
}

// Releasing a partition takes its events back from every place they can be: a stage, the
// queue between stages, the dead-letter path; the others go on.
TEST_F(PipelineTest, AbandonTakesAPartitionsEventsFromEveryPlace) {
  admit(p0, 0);  // stays in the first stage
  admit(p0, 1);
  first.failOldest("invalid_json");  // p0@0: to the dead-letter path
  pipeline.route();
  first.passOldest();  // p0@1: waits in the queue
  admit(p1, 0);        // p1@0: in the first stage
  settles = 0;
  EXPECT_EQ(pipeline.abandon(p0.get()), 2u);
  EXPECT_EQ(counters.abandoned, 2u);
  EXPECT_EQ(dead_letters.pending(), 0u);
  EXPECT_EQ(pipeline.waitingHandoffs(), 0u);
  EXPECT_EQ(backpressure.inFlightEvents(), 1u);
  EXPECT_EQ(p0->in_flight_events, 0u);
  pipeline.route();
  EXPECT_EQ(settles, 1);  // drains waiting for those events are checked
  EXPECT_TRUE(second.taken.empty());
  EXPECT_EQ(pipeline.abandon(nullptr), 1u);
  EXPECT_EQ(backpressure.inFlightEvents(), 0u);
}

// The settle hook may itself drop partitions (a revoke finishing); route() does not nest.
TEST_F(PipelineTest, TheSettleHookMayAbandonWithoutNesting) {
  first.pass_at_once = true;
  second.pass_at_once = true;
  admit(p0, 0);
  admit(p1, 0);
  int calls = 0;
  pipeline.onSettled([&] {
    ++calls;
    if (calls == 1) pipeline.abandon(p1.get());
  });
  pipeline.route();
  EXPECT_EQ(counters.completed, 2u);  // both had finished before the hook ran
  EXPECT_EQ(calls, 2);                // the abandon asked for one more check, then quiet
}

}  // namespace
}  // namespace sluice
