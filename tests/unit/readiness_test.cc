#include <gtest/gtest.h>

#include "app/status_endpoints.h"

namespace sluice {
namespace {

TEST(Readiness, ReadyWithPartitionsWhileRunning) {
  const auto r = readiness({.running = true, .partitions = 3});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
}

TEST(Readiness, NotReadyBeforeAnyPartitionUnlessConfiguredSo) {
  auto r = readiness({.running = true, .partitions = 0, .joined = true});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no partitions assigned yet\n");
  r = readiness({.running = true, .joined = false, .ready_without_partitions = true});
  EXPECT_EQ(r.status, 503);  // not even a member yet
  r = readiness({.running = true, .joined = true, .ready_without_partitions = true});
  EXPECT_EQ(r.status, 200);
}

// The reasons in order of what an operator must know first: stopping, then a dead-letter
// topic that refuses events.
TEST(Readiness, SaysWhyItIsNotReady) {
  auto r = readiness({.running = false, .dead_letter_trouble = "dlq refuses", .partitions = 1});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "stopping\n");
  r = readiness({.running = true, .dead_letter_trouble = "dlq refuses", .partitions = 1});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "dlq refuses\n");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Every broker down: not ready, and that comes before what a dead-letter topic would say
// (it is down too) or a lost assignment.
TEST(Readiness, KafkaUnreachableIsNotReady) {
  const auto r = readiness({.running = true, .kafka_reachable = false,
                            .dead_letter_trouble = "dlq refuses", .partitions = 0});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "kafka unreachable: every broker is down\n");
}

}  // namespace
}  // namespace sluice
