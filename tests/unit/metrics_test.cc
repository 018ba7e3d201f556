#include "metrics/metrics.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

MetricsSnapshot::Partition partition(std::int32_t id, std::int64_t committable, std::int64_t lag,
                                     std::int64_t committed) {
  MetricsSnapshot::Partition p;
  p.topic = "events";
  p.partition = id;
  p.committable = committable;
  p.lag = lag;
  p.committed = committed;
  return p;
}

TEST(Metrics, PartitionSeriesFollowTheAssignment) {
  Metrics metrics({"a"}, "1.2.3");
  MetricsSnapshot s;
  s.sinks.resize(1);
  s.partitions = {partition(0, 40, 2, 35), partition(1, 7, -1, -1)};
  std::string text = metrics.render(s);
  EXPECT_TRUE(has(text, "sluice_committable_offset{partition=\"0\",topic=\"events\"} 40"));
  EXPECT_TRUE(has(text, "sluice_consumer_lag_messages{partition=\"0\",topic=\"events\"} 2"));
  EXPECT_TRUE(has(text, "sluice_committed_offset{partition=\"0\",topic=\"events\"} 35"));
  EXPECT_TRUE(has(text, "sluice_committable_offset{partition=\"1\",topic=\"events\"} 7"));
  // Unknown values get no series rather than a made-up number.
  EXPECT_FALSE(has(text, "sluice_consumer_lag_messages{partition=\"1\""));
  EXPECT_FALSE(has(text, "sluice_committed_offset{partition=\"1\""));
  EXPECT_TRUE(has(text, "sluice_build_info{version=\"1.2.3\"} 1"));
  EXPECT_TRUE(has(text, "sluice_held_events 0"));

  // Partition 0 moved to another replica: its series go, or sums over replicas double-count.
  s.partitions = {partition(1, 9, 4, 7)};
  text = metrics.render(s);
  EXPECT_FALSE(has(text, "partition=\"0\""));
  EXPECT_TRUE(has(text, "sluice_committable_offset{partition=\"1\",topic=\"events\"} 9"));
  EXPECT_TRUE(has(text, "sluice_consumer_lag_messages{partition=\"1\",topic=\"events\"} 4"));
  EXPECT_TRUE(has(text, "sluice_committed_offset{partition=\"1\",topic=\"events\"} 7"));

  // And come back when it returns.
  s.partitions.push_back(partition(0, 50, 0, 50));
  text = metrics.render(s);
  EXPECT_TRUE(has(text, "sluice_committed_offset{partition=\"0\",topic=\"events\"} 50"));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(Metrics, TransformRunsReloadsAndTheModuleInForce) {
  Metrics metrics({"a"}, "1.2.3");
  metrics.observeTransform("pipeline", "ok", 0.0002);
  metrics.observeTransform("pipeline", "ok", 0.0003);
  metrics.observeTransform("pipeline", "failed", 0.2);
  metrics.observeTransform("a", "dropped", 0.00001);
  metrics.observeReload("pipeline", "failed");
  MetricsSnapshot s;
  s.sinks.resize(1);
  s.transform_modules = {{"pipeline", "aaa"}};
  s.transform_queue = 7;
  std::string text = metrics.render(s);
  EXPECT_TRUE(has(text, "sluice_transform_results_total{result=\"ok\",transform=\"pipeline\"} 2"));
  EXPECT_TRUE(has(text, "sluice_transform_results_total{result=\"failed\",transform=\"pipeline\"} 1"));
  EXPECT_TRUE(has(text, "sluice_transform_results_total{result=\"dropped\",transform=\"a\"} 1"));
  EXPECT_TRUE(has(text, "sluice_transform_duration_seconds_count{transform=\"pipeline\"} 3"));
  EXPECT_TRUE(has(text, "sluice_transform_reloads_total{result=\"failed\",transform=\"pipeline\"} 1"));
  EXPECT_TRUE(has(text, "sluice_transform_module_info{sha256=\"aaa\",transform=\"pipeline\"} 1"));
  EXPECT_TRUE(has(text, "sluice_transform_queue_events 7"));
  // A reload: the old module's series goes, the new one's comes.
  s.transform_modules = {{"pipeline", "bbb"}};
  text = metrics.render(s);
  EXPECT_FALSE(has(text, "sha256=\"aaa\"")) << text;
  EXPECT_TRUE(has(text, "sluice_transform_module_info{sha256=\"bbb\",transform=\"pipeline\"} 1"));
}

}  // namespace
}  // namespace sluice
