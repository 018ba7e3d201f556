#include "delivery/idempotency_key.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(IdempotencyKey, CoordinatesKeyIsStableAndDistinct) {
  EXPECT_EQ(coordinatesKey("orders", 3, 42), "orders/3/42");
  EXPECT_EQ(coordinatesKey("orders", 3, 42), coordinatesKey("orders", 3, 42));
  EXPECT_NE(coordinatesKey("orders", 3, 42), coordinatesKey("orders", 34, 2));
}

TEST(IdempotencyKey, SfStringQuotesAndEscapes) {
  EXPECT_EQ(toSfString("orders/3/42"), "\"orders/3/42\"");
  EXPECT_EQ(toSfString(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(toSfString(""), "\"\"");
}

TEST(IdempotencyKey, SfStringPercentEncodesWhatItCannotCarry) {
  EXPECT_EQ(toSfString("tab\there"), "\"tab%09here\"");
  EXPECT_EQ(toSfString("caf\xc3\xa9"), "\"caf%C3%A9\"");
  // '%' itself is encoded so "100%25" and "100%" stay distinct keys.
  EXPECT_EQ(toSfString("100%"), "\"100%25\"");
  EXPECT_NE(toSfString("100%"), toSfString("100%25"));
}

TEST(IdempotencyKey, SfStringOutputIsAlwaysPrintableAscii) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string sf = toSfString(all);
  for (const char c : sf) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u <= 0x7e) << static_cast<int>(u);
  }
}

TEST(IdempotencyKey, JsonPointerFindsStringsAndNumbers) {
  EXPECT_EQ(jsonPointerKey(R"({"id":"abc-1","n":{"seq":17}})", "/id"), "abc-1");
  EXPECT_EQ(jsonPointerKey(R"({"id":"abc-1","n":{"seq":17}})", "/n/seq"), "17");
  EXPECT_EQ(jsonPointerKey(R"({"a/b":"x"})", "/a~1b"), "x");
}

TEST(IdempotencyKey, JsonPointerMissingOrUnusable) {
  EXPECT_FALSE(jsonPointerKey(R"({"id":"x"})", "/nope").has_value());
  EXPECT_FALSE(jsonPointerKey(R"({"id":{"x":1}})", "/id").has_value());
  EXPECT_FALSE(jsonPointerKey("not json", "/id").has_value());
  EXPECT_FALSE(jsonPointerKey(R"({"id":null})", "/id").has_value());
}

}  // namespace
}  // namespace sluice
