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

TEST(IdempotencyKey, JsonPointerSurvivesHostileDocuments) {
  EXPECT_FALSE(jsonPointerKey(std::string(500'000, '['), "/0").has_value());
  using namespace std::string_literals;
  EXPECT_FALSE(jsonPointerKey("{\"id\":\"x\"}\0{"s, "/id").has_value());
  EXPECT_FALSE(jsonPointerKey("{\"id\":\"\xff\"}", "/id").has_value());
}

TEST(IdempotencyKey, DerivedFromTheConfiguredSourceOrTheCoordinates) {
  IdempotencyConfig c;
  EXPECT_EQ(deriveIdempotencyKey(c, "{}", std::nullopt, "t", 1, 2).key, "\"t/1/2\"");
  c.source = KeySource::kJsonPointer;
  c.json_pointer = "/id";
  auto k = deriveIdempotencyKey(c, R"({"id":"a b"})", std::nullopt, "t", 1, 2);
  EXPECT_EQ(k.key, "\"a b\"");
  EXPECT_FALSE(k.fell_back);
  k = deriveIdempotencyKey(c, R"({"no":1})", std::nullopt, "t", 1, 2);
  EXPECT_EQ(k.key, "\"t/1/2\"");
  EXPECT_TRUE(k.fell_back);
  c.source = KeySource::kHeader;
  k = deriveIdempotencyKey(c, "", std::string_view("h-1"), "t", 1, 2);
  EXPECT_EQ(k.key, "\"h-1\"");
  k = deriveIdempotencyKey(c, "", std::nullopt, "t", 1, 2);
  EXPECT_TRUE(k.fell_back);
}

TEST(IdempotencyKey, SuppliedKeysAreBoundedInSize) {
  IdempotencyConfig c;
  c.source = KeySource::kHeader;
  const std::string longest(kMaxSuppliedKeyBytes, 'k');
  auto k = deriveIdempotencyKey(c, "", std::string_view(longest), "t", 0, 9);
  EXPECT_FALSE(k.fell_back);
  EXPECT_EQ(k.key.size(), longest.size() + 2);
  const std::string huge(1 << 20, 'k');
  k = deriveIdempotencyKey(c, "", std::string_view(huge), "t", 0, 9);
  EXPECT_TRUE(k.fell_back);
  EXPECT_EQ(k.key, "\"t/0/9\"");
  c.source = KeySource::kJsonPointer;
  c.json_pointer = "/id";
  k = deriveIdempotencyKey(c, "{\"id\":\"" + huge + "\"}", std::nullopt, "t", 0, 9);
  EXPECT_TRUE(k.fell_back);
  EXPECT_EQ(k.key, "\"t/0/9\"");
}

}  // namespace
}  // namespace sluice
