#include "delivery/concurrency_limit.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Signal = ConcurrencyLimit::Signal;

// Drives one limit through windows of answers, as a sink's would come back.
class ConcurrencyLimitTest : public ::testing::Test {
 protected:
  // One window: `n` accepted answers of `latency` (and `slow` of 2 s), spread over `span`,
  // with requests waiting for a slot if `saturated`. By default `n` is a flight of the
  // limit's size (at least 20): a window needs answers to half of it sent since it changed.
  void window(ConcurrencyLimit& l, std::chrono::microseconds latency, bool saturated = true,
              int n = 0, int slow = 0, std::chrono::milliseconds span = 12ms) {
    if (n == 0) n = std::max(20, static_cast<int>(l.limit()));
    for (int i = 0; i < n + slow; ++i) l.sent();
    if (saturated) l.saturated();
    for (int i = 0; i < n + slow; ++i) {
      now += std::chrono::duration_cast<std::chrono::microseconds>(span) / (n + slow);
      l.observe(now, i < slow ? std::chrono::microseconds(2s) : latency, Signal::kAccepted);
    }
  }
  TimePoint now{};
};

TEST_F(ConcurrencyLimitTest, FixedIsAlwaysTheCap) {
  ConcurrencyLimit l(false, 512);
  EXPECT_EQ(l.limit(), 512u);
  for (int w = 0; w < 5; ++w) window(l, 1ms);
  l.observe(now + 1s, 0us, Signal::kBackPressure);
  EXPECT_EQ(l.limit(), 512u);
}

TEST_F(ConcurrencyLimitTest, GrowsByDoublingWhileLatencyStaysFlatAndRequestsWait) {
  ConcurrencyLimit l(true, 100);
  EXPECT_EQ(l.limit(), ConcurrencyLimit::kInitial);
  window(l, 1ms);
  EXPECT_EQ(l.limit(), 16u);
  window(l, 1ms);
  EXPECT_EQ(l.limit(), 32u);
  window(l, 1ms);
  window(l, 1ms);
  EXPECT_EQ(l.limit(), 100u);  // never above the cap
  window(l, 1ms);
  EXPECT_EQ(l.limit(), 100u);
}

TEST_F(ConcurrencyLimitTest, DoesNotGrowWhenNoRequestWaits) {
  ConcurrencyLimit l(true, 512);
  for (int w = 0; w < 10; ++w) window(l, 1ms, /*saturated=*/false);
  EXPECT_EQ(l.limit(), ConcurrencyLimit::kInitial);
}

TEST_F(ConcurrencyLimitTest, BackPressureShrinksAndThenGrowthIsByOne) {
  ConcurrencyLimit l(true, 512);
  window(l, 1ms);
  window(l, 1ms);
  ASSERT_EQ(l.limit(), 32u);
  now += 20ms;
  l.observe(now, 0us, Signal::kBackPressure);  // a 503: the window ends at once
  EXPECT_EQ(l.limit(), 28u);                   // 90%
  window(l, 1ms);
  EXPECT_EQ(l.limit(), 29u);
  window(l, 1ms);
  EXPECT_EQ(l.limit(), 30u);
}

TEST_F(ConcurrencyLimitTest, OnlyRequestsSentSinceTheLastChangeCount) {
  ConcurrencyLimit l(true, 512);
  window(l, 1ms);
  ASSERT_EQ(l.limit(), 16u);
  // Answers to requests sent before the doubling (the window that doubled ended within the
  // last 2 ms), slower with every one (a loop that fell behind): they describe the old limit,
  // so they neither shrink nor grow this one.
  const TimePoint changed = now;
  l.saturated();
  for (int i = 1; i <= 20; ++i) {
    now = changed + std::chrono::milliseconds(i);
    l.observe(now, std::chrono::duration_cast<std::chrono::microseconds>(now - changed) + 5ms,
              Signal::kAccepted);
  }
  EXPECT_EQ(l.limit(), 16u);
  window(l, 1ms);  // answers to requests sent under the new limit: it doubles again
  EXPECT_EQ(l.limit(), 32u);
}

TEST_F(ConcurrencyLimitTest, AFlightOfTimeoutsSentUnderOneLimitCutsItOnce) {
  ConcurrencyLimit l(true, 512);
  window(l, 1ms);
  window(l, 1ms);
  ASSERT_EQ(l.limit(), 32u);
  now += 10s;  // a flight of requests sent long after that change time out after 5 s
  l.observe(now, 5s, Signal::kBackPressure);
  EXPECT_EQ(l.limit(), 28u);
  for (int i = 0; i < 5; ++i) {  // the rest of that flight, sent before the cut
    now += 11ms;
    l.observe(now, 5s, Signal::kBackPressure);
  }
  EXPECT_EQ(l.limit(), 28u);
  now += 11ms;
  l.observe(now, 1ms, Signal::kBackPressure);  // sent since the cut: cuts again
  EXPECT_EQ(l.limit(), 25u);
}

TEST_F(ConcurrencyLimitTest, AWindowEndsOnAnswersToHalfItsFlightNotOnTheFirstFew) {
  ConcurrencyLimit l(true, 512);
  window(l, 1ms);
  ASSERT_EQ(l.limit(), 16u);
  // The new flight's first answers are its fastest; the sink queues the rest. A median of
  // the first four would double the limit again; half the flight shows the queueing.
  for (int i = 0; i < 16; ++i) l.sent();
  l.saturated();
  now += 20ms;
  for (int i = 0; i < 12; ++i) {
    now += 500us;
    l.observe(now, i < 3 ? 1ms : 3ms, Signal::kAccepted);
  }
  EXPECT_EQ(l.limit(), 14u);
}

TEST_F(ConcurrencyLimitTest, ABatchingSinkGrowsOnlyWhileMostOfItsRequestsLeaveFull) {
  ConcurrencyLimit l(true, 512);
  // Slots were all taken at times, yet most batches left part-full with nothing else
  // waiting: more slots would only split the same events into smaller requests. (window()
  // sends its 20 requests full.)
  for (int w = 0; w < 5; ++w) {
    for (int i = 0; i < 100; ++i) l.sent(/*part_full=*/i < 70);
    window(l, 1ms);
  }
  EXPECT_EQ(l.limit(), ConcurrencyLimit::kInitial);
  for (int i = 0; i < 10; ++i) l.sent(/*part_full=*/i < 3);  // mostly full, requests waited
  window(l, 1ms);
  EXPECT_EQ(l.limit(), 2 * ConcurrencyLimit::kInitial);
}

TEST_F(ConcurrencyLimitTest, LatencyRisingFromQueueingShrinks) {
  ConcurrencyLimit l(true, 512);
  window(l, 1ms);
  window(l, 1ms);
  ASSERT_EQ(l.limit(), 32u);
  window(l, 1800us);  // under twice the lowest median: still room
  EXPECT_EQ(l.limit(), 64u);
  window(l, 3ms);  // over twice: queueing
  EXPECT_EQ(l.limit(), 57u);
  window(l, 3ms);
  EXPECT_EQ(l.limit(), 51u);
  // Back to the baseline (once a window holds only such answers): grows again, by one.
  window(l, 1ms);
  window(l, 1ms);
  const auto settled = l.limit();
  window(l, 1ms);
  EXPECT_EQ(l.limit(), settled + 1);
}

TEST_F(ConcurrencyLimitTest, OneRequestInAHundredTakingTwoSecondsDoesNotShrinkIt) {
  // The slow ones hold their slots for 2 s: the sink needs a large window, and the median
  // of what comes back says the sink is as fast as ever.
  // The window bounds the sink: each window brings ten answers per slot, one in a hundred
  // of them 2 s late (to requests sent before the limit last changed, so only the median of
  // the rest counts, as with such a sink while its limit grows).
  ConcurrencyLimit l(true, 512);
  for (int w = 0; w < 7; ++w) {
    const int n = 10 * static_cast<int>(l.limit());
    window(l, 1ms, true, n - n / 100, n / 100, 12ms);
  }
  EXPECT_EQ(l.limit(), 512u);
}

TEST_F(ConcurrencyLimitTest, ALaggardIsSlowAgainstWhatMostRequestsTakeNow) {
  ConcurrencyLimit l(true, 512);
  window(l, 1ms);
  window(l, 1ms);
  EXPECT_EQ(l.laggardAfter(), 8ms);
  // Every request slow now (a busy loop, an overwhelmed sink): 25 ms is ordinary, not late.
  window(l, 25ms, true, 0, 0, 100ms);
  EXPECT_EQ(l.laggardAfter(), 200ms);
  // Fast again: the next window (as long as the last median) brings it back down.
  window(l, 1ms, true, 0, 0, 30ms);
  EXPECT_EQ(l.laggardAfter(), 8ms);
  // A few slow among many fast leave the median, and so the laggard bar, where it was.
  window(l, 1ms, true, 99, 1, 12ms);
  EXPECT_EQ(l.laggardAfter(), 8ms);
}

TEST_F(ConcurrencyLimitTest, TinyLatenciesAreNoise) {
  // 50 us then 150 us: three times the baseline, but under the 200 us floor.
  ConcurrencyLimit l(true, 512);
  window(l, 50us);
  window(l, 150us);
  EXPECT_EQ(l.limit(), 32u);
}

// A sink that keeps answering 503 shrinks the window to the floor, not to one slot, where
// every scheduling hiccup or slow request stalls the sink; a cap below the floor is the floor.
static_assert(ConcurrencyLimit::kMinLimit > 1, "a window of one stalls at every hiccup");

TEST_F(ConcurrencyLimitTest, ShrinksNoFurtherThanTheFloor) {
  ConcurrencyLimit l(true, 512);
  for (int i = 0; i < 100; ++i) {
    now += 20ms;
    l.observe(now, 0us, Signal::kBackPressure);
  }
  EXPECT_EQ(l.limit(), ConcurrencyLimit::kMinLimit);
  ConcurrencyLimit small(true, 2);
  for (int i = 0; i < 10; ++i) {
    now += 20ms;
    small.observe(now, 0us, Signal::kBackPressure);
  }
  EXPECT_EQ(small.limit(), 2u);
}

TEST_F(ConcurrencyLimitTest, ASinkThatGotSlowerForGoodIsTheNewBaselineWithinTwentySeconds) {
  ConcurrencyLimit l(true, 512);
  window(l, 1ms);
  ASSERT_EQ(l.limit(), 16u);
  // From now on 5 ms whatever the window: at first that reads as queueing.
  window(l, 5ms);
  EXPECT_EQ(l.limit(), 14u);
  while (now < TimePoint{} + 21s) window(l, 5ms);
  const auto settled = l.limit();
  window(l, 5ms);
  EXPECT_EQ(l.limit(), settled + 1) << "still shrinking after the baseline span";
}

}  // namespace
}  // namespace sluice
