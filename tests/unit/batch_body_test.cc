#include "batch_body.h"

#include <gtest/gtest.h>

namespace sluice::tools {
namespace {

using Parts = std::vector<std::string_view>;

TEST(BatchBody, SplitsTopLevelElementsVerbatim) {
  const auto parts = splitJsonArray(R"( [{"a":[1,2]}, "x,]\"y" ,3,{"b":{"c":"}"}}] )");
  ASSERT_TRUE(parts);
  // Elements keep their own whitespace: they are the events' bodies byte for byte.
  EXPECT_EQ(*parts, (Parts{R"({"a":[1,2]})", R"( "x,]\"y" )", "3", R"({"b":{"c":"}"}})"}));
  EXPECT_EQ(splitJsonArray("[]"), Parts{});
  EXPECT_EQ(splitJsonArray("[\n{\"n\":1}\n]"), (Parts{"\n{\"n\":1}\n"}));
}

TEST(BatchBody, RefusesWhatIsNotABalancedArray) {
  EXPECT_FALSE(splitJsonArray(R"({"a":1})"));
  EXPECT_FALSE(splitJsonArray(R"([{"a":1})"));
  EXPECT_FALSE(splitJsonArray(R"([{"a":1}},2])"));
  EXPECT_FALSE(splitJsonArray(R"(["open])"));
  EXPECT_FALSE(splitJsonArray("[1,,2]"));
  EXPECT_FALSE(splitJsonArray("[1,2,]"));
}

TEST(BatchBody, SplitsSfLists) {
  EXPECT_EQ(splitSfList(R"("t/0/1", "t/0/2","a\"b,c")"),
            (Parts{R"("t/0/1")", R"("t/0/2")", R"("a\"b,c")"}));
  EXPECT_EQ(splitSfList("5, 6,7"), (Parts{"5", "6", "7"}));
  EXPECT_FALSE(splitSfList(R"("open, "x")"));
  EXPECT_FALSE(splitSfList("1,,2"));
  EXPECT_FALSE(splitSfList("1 2"));
}

}  // namespace
}  // namespace sluice::tools
