#include "loop/event_loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(EventLoop, RescheduledTimerRunsOnceAtItsNewDeadline) {
  EventLoop loop;
  std::vector<int> ran;
  const auto later = loop.runAfter(5ms, [&] { ran.push_back(1); });
  const auto sooner = loop.runAfter(60ms, [&] { ran.push_back(2); });
  loop.runAfter(150ms, [&] { loop.stop(); });
  ASSERT_TRUE(loop.reschedule(later, 100ms));  // now after `sooner`
  ASSERT_TRUE(loop.reschedule(sooner, 1ms));
  const auto started = SteadyClock::now();
  loop.run();
  EXPECT_EQ(ran, (std::vector<int>{2, 1}));
  EXPECT_GE(SteadyClock::now() - started, 100ms);
  EXPECT_FALSE(loop.reschedule(later, 1ms));  // it ran
}

TEST(EventLoop, CancelledTimerCannotBeRescheduled) {
  EventLoop loop;
  bool ran = false;
  const auto id = loop.runAfter(1ms, [&] { ran = true; });
  loop.cancel(id);
  EXPECT_FALSE(loop.reschedule(id, 1ms));
  loop.runAfter(20ms, [&] { loop.stop(); });
  loop.run();
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace sluice
