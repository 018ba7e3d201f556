#include "app/pending_revoke.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

RdPartitionListPtr listOf(const std::vector<std::pair<const char*, int>>& partitions) {
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& [topic, p] : partitions) rd_kafka_topic_partition_list_add(list.get(), topic, p);
  return list;
}

// librdkafka 2.0.2 never starts a second revoke before the first one's unassign, but should one
// come, it must join the first: replacing it would leave the first set assigned for good.
TEST(PendingRevoke, ASecondRevokeJoinsTheFirst) {
  auto a = std::make_shared<PartitionState>("t", 0);
  auto b = std::make_shared<PartitionState>("t", 1);
  auto c = std::make_shared<PartitionState>("u", 0);
  PendingRevoke pending;
  pending.add(*listOf({{"t", 0}, {"t", 1}}), {a, b});
  pending.add(*listOf({{"t", 1}, {"u", 0}}), {b, c});
  const auto& list = pending.partitions();
  ASSERT_EQ(list.cnt, 3);
  EXPECT_NE(rd_kafka_topic_partition_list_find(&list, "t", 0), nullptr);
  EXPECT_NE(rd_kafka_topic_partition_list_find(&list, "t", 1), nullptr);
  EXPECT_NE(rd_kafka_topic_partition_list_find(&list, "u", 0), nullptr);
  EXPECT_EQ(pending.states().size(), 3u);
  // One of them lost meanwhile: the unassign must not name it again.
  pending.remove("t", 1);
  EXPECT_EQ(pending.partitions().cnt, 2);
  EXPECT_EQ(rd_kafka_topic_partition_list_find(&pending.partitions(), "t", 1), nullptr);
  EXPECT_EQ(pending.states().size(), 2u);
  pending.remove("t", 0);
  pending.remove("u", 0);
  EXPECT_TRUE(pending.empty());
}

TEST(PendingRevoke, DrainedOnceOnlyHeldEventsAreLeft) {
  auto a = std::make_shared<PartitionState>("t", 0);
  auto b = std::make_shared<PartitionState>("t", 1);
  PendingRevoke pending;
  pending.add(*listOf({{"t", 0}, {"t", 1}}), {a, b});
  EXPECT_TRUE(pending.drained());
  a->offsets.dispatched(5);
  a->offsets.dispatched(6);
  EXPECT_FALSE(pending.drained());
  a->offsets.completed(5);
  EXPECT_FALSE(pending.drained());
  // Offset 6 is held (its dead letter cannot be written): nothing will finish it.
  a->held_events = 1;
  EXPECT_TRUE(pending.drained());
  b->offsets.dispatched(1);
  EXPECT_FALSE(pending.drained());
}

}  // namespace
}  // namespace sluice
