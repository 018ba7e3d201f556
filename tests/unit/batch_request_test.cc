#include "delivery/batch_request.h"

#include <gtest/gtest.h>

#include <vector>

#include "batch_body.h"
#include "validate/validator.h"

namespace sluice {
namespace {

TEST(BatchRequest, ArrayAndListsCarryEachEventInOrder) {
  const std::vector<BatchItem> items{
      {R"({"a":1})", R"("t/0/7")", 7},
      {"\xEF\xBB\xBF[2]", R"("k\"2")", 8},  // a BOM passes validation; the array drops it
      {" \"s\" ", R"("t/0/9")", 1'000'000'000'000},
  };
  const BatchBody b = assembleBatch(items);
  EXPECT_EQ(b.body, R"([{"a":1},[2], "s" ])");
  EXPECT_EQ(b.keys, R"("t/0/7", "k\"2", "t/0/9")");
  EXPECT_EQ(b.offsets, "7, 8, 1000000000000");
  const auto parts = tools::splitJsonArray(b.body);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->size(), items.size());
  const auto keys = tools::splitSfList(b.keys);
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->size(), items.size());
}

TEST(BatchRequest, ListGrowthMatchesWhatIsAppended) {
  for (const std::int64_t offset : {0LL, 9LL, 10LL, 123456LL, 9'223'372'036'854'775'807LL}) {
    const std::vector<BatchItem> one{{"1", R"("k")", offset}};
    const std::vector<BatchItem> two{{"1", R"("k")", 0}, {"1", R"("k")", offset}};
    EXPECT_EQ(assembleBatch(one).offsets.size(), offsetListGrowth(offset, true)) << offset;
    EXPECT_EQ(assembleBatch(two).offsets.size(), 1 + offsetListGrowth(offset, false)) << offset;
  }
  EXPECT_EQ(keyListGrowth(5, true), 5u);
  EXPECT_EQ(keyListGrowth(5, false), 7u);
}

// Whatever the validator lets through must make a valid array: one bad element would make the
// whole batch invalid at the sink.
TEST(BatchRequest, AnyValidatedEventsMakeAValidArray) {
  ValidationConfig vc;
  vc.schema = "none";
  Validator v(vc);
  using namespace std::string_literals;
  const std::vector<std::string> candidates{
      R"({"a":1})", "\xEF\xBB\xBF{}", "\xBB{}", "{}\0x"s, "1 ", "\"caf\xe9\"", "[1]\n", "null",
      "{\"a\":1}\0"s, "\t{}\t"};
  std::vector<BatchItem> accepted;
  for (const auto& c : candidates) {
    if (!v.check(c)) accepted.push_back({c, R"("k")", 1});
  }
  ASSERT_GE(accepted.size(), 5u);
  const BatchBody b = assembleBatch(accepted);
  EXPECT_FALSE(v.check(b.body).has_value()) << b.body;
  const auto parts = tools::splitJsonArray(b.body);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->size(), accepted.size());
}

}  // namespace
}  // namespace sluice
