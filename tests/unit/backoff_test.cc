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

}  // namespace
}  // namespace sluice
