#include "delivery/backoff.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, CeilingGrowsExponentiallyAndIsCapped) {
  Backoff b({milliseconds(100), milliseconds(1000), 2.0}, 1);
  EXPECT_EQ(b.ceilingAfter(1), milliseconds(100));
  EXPECT_EQ(b.ceilingAfter(2), milliseconds(200));
  EXPECT_EQ(b.ceilingAfter(4), milliseconds(800));
  EXPECT_EQ(b.ceilingAfter(5), milliseconds(1000));
  EXPECT_EQ(b.ceilingAfter(500), milliseconds(1000));
}

TEST(Backoff, FullJitterStaysWithinCeilingAndVaries) {
  Backoff b({milliseconds(100), milliseconds(10'000), 2.0}, 7);
  milliseconds lo = milliseconds::max(), hi = milliseconds::zero();
  for (int i = 0; i < 2000; ++i) {
    const auto d = b.delayAfter(4);
    ASSERT_GE(d, milliseconds(0));
    ASSERT_LE(d, milliseconds(800));
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, milliseconds(100));  // jitter reaches low values ...
  EXPECT_GT(hi, milliseconds(700));  // ... and high ones
}

TEST(RetryAfter, ParsesDeltaSeconds) {
  EXPECT_EQ(parseRetryAfterSeconds("5"), std::chrono::seconds(5));
  EXPECT_EQ(parseRetryAfterSeconds(" 120\r\n"), std::chrono::seconds(120));
  EXPECT_EQ(parseRetryAfterSeconds("0"), std::chrono::seconds(0));
}

TEST(RetryAfter, RejectsBadValues) {
  EXPECT_FALSE(parseRetryAfterSeconds("").has_value());
  EXPECT_FALSE(parseRetryAfterSeconds("-1").has_value());
  EXPECT_FALSE(parseRetryAfterSeconds("1.5").has_value());
  EXPECT_FALSE(parseRetryAfterSeconds("soon").has_value());
  EXPECT_FALSE(parseRetryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
}

TEST(RetryAfter, HugeValuesSaturateInsteadOfWrappingNegative) {
  using std::chrono::milliseconds;
  const auto now = std::chrono::system_clock::from_time_t(1445412450);  // 2015-10-21 07:27:30
  // Seconds past what milliseconds hold (~9.2e15), and past what int64 holds at all.
  for (const char* huge : {"9300000000000000", "9223372036854775807", "99999999999999999999999"}) {
    const auto d = parseRetryAfter(huge, now);
    ASSERT_TRUE(d.has_value()) << huge;
    EXPECT_GE(*d, milliseconds(300'000)) << huge;
  }
  // An HTTP-date after 2262, where the clock's nanoseconds end.
  const auto far = parseRetryAfter("Fri, 01 Jan 2300 00:00:00 GMT", now);
  ASSERT_TRUE(far.has_value());
  EXPECT_GE(*far, milliseconds(300'000));
  const auto farther = parseRetryAfter("Fri, 01 Jan 9999 00:00:00 GMT", now);
  ASSERT_TRUE(farther.has_value());
  EXPECT_GE(*farther, milliseconds(300'000));
  EXPECT_FALSE(parseRetryAfterSeconds("+5").has_value());
}

TEST(RetryAfter, AcceptsAllThreeHttpDateForms) {
  // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
  const auto now = std::chrono::system_clock::from_time_t(1445412480 - 30);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), milliseconds(30'000));
  EXPECT_EQ(parseRetryAfter("Wednesday, 21-Oct-15 07:28:00 GMT", now), milliseconds(30'000));
  EXPECT_EQ(parseRetryAfter("Wed Oct 21 07:28:00 2015", now), milliseconds(30'000));
  EXPECT_EQ(parseRetryAfter("7", now), milliseconds(7'000));
}

TEST(RetryAfter, DateInThePastMeansNoDelayAndGarbageIsRefused) {
  const auto now = std::chrono::system_clock::from_time_t(1445412480 + 3600);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), milliseconds(0));
  EXPECT_FALSE(parseRetryAfter("Wed, 21 Oct 2015 07:28:00", now).has_value());  // no zone
  EXPECT_FALSE(parseRetryAfter("Wed, 32 Oct 2015 07:28:00 GMT", now).has_value());
  EXPECT_FALSE(parseRetryAfter("tomorrow", now).has_value());
  EXPECT_FALSE(parseRetryAfter("", now).has_value());
}

}  // namespace
}  // namespace sluice
