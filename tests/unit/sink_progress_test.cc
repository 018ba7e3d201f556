#include "app/sink_progress.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

constexpr const char* kUrl = "http://a.example:8080/ingest";

TEST(SinkProgressRecord, IsTrustedForTheSameUrlWhileTheGroupHasNotGoneBack) {
  const std::string meta = progressMetadata(1000, kUrl);
  EXPECT_EQ(trustedProgress(1500, meta, 1000, kUrl), 1500);
  EXPECT_EQ(trustedProgress(1500, meta, 1400, kUrl), 1500);  // the group moved on since
}

TEST(SinkProgressRecord, IsIgnoredOnceTheGroupWasResetToReplay) {
  const std::string meta = progressMetadata(1000, kUrl);
  EXPECT_EQ(trustedProgress(1500, meta, 999, kUrl), std::nullopt);
  EXPECT_EQ(trustedProgress(1500, meta, -1, kUrl), std::nullopt);  // the group was deleted
}

TEST(SinkProgressRecord, WrittenBeforeTheGroupHadACommitIsTrusted) {
  EXPECT_EQ(trustedProgress(300, progressMetadata(-1, kUrl), -1, kUrl), 300);
}

TEST(SinkProgressRecord, IsIgnoredForAnotherUrlOrAForeignRecord) {
  const std::string meta = progressMetadata(1000, kUrl);
  EXPECT_EQ(trustedProgress(1500, meta, 1000, "http://b.example:8080/ingest"), std::nullopt);
  EXPECT_EQ(trustedProgress(1500, "", 1000, kUrl), std::nullopt);
  EXPECT_EQ(trustedProgress(1500, "someone else's metadata", 1000, kUrl), std::nullopt);
  EXPECT_EQ(trustedProgress(1500, meta + "x", 1000, kUrl), std::nullopt);
  EXPECT_EQ(trustedProgress(-1001, meta, 1000, kUrl), std::nullopt);  // no offset committed
}

}  // namespace
}  // namespace sluice
