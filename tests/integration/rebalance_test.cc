// Group membership changes while events are produced and delivered: nothing is lost, commits
// reach the end, and the partitions a member keeps go on flowing while it gives others away.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "chunked_producer.h"
#include "members.h"
#include "pipeline.h"
#include "sluice_log.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 12;
constexpr std::int64_t kChunk = 4'000;
constexpr std::int64_t kChunks = 30;  // 120k events
constexpr std::int64_t kEvents = kChunk * kChunks;
constexpr double kProduceRate = 5'000;  // events/s: production spans about 25 s

std::int64_t total(const PartitionOffsets& offsets) {
  std::int64_t n = 0;
  for (const auto& [p, o] : offsets) n += o;
  return n;
}

bool assignedAtLeast(const Pipeline& pl, std::size_t i, std::size_t min) {
  return sluice::testing::assignedAtLeast(pl.sluiceLog(i), min);
}

TEST(Rebalance, MemberJoinsAndLeavesWhileProducingLosesNothing) {
  Pipeline pl("rebalance", kPartitions);
  for (const char* name : {"a", "b", "c"}) pl.startSink(name);
  const std::string config = pl.writeConfig();

  // Member 0 owns all partitions before members 1 and 2 join, so every partition of 1 and 2
  // was revoked from 0 once; when 1 leaves below, 0 is given one of them back (the sticky
  // assignor balances 1's three partitions over the three that stay). Starting the members
  // one after the other makes that hand-back happen on every run rather than by chance.
  pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl, 0, kPartitions); }, 60s))
      << "the first member never got all partitions";
  pl.startSluice(config);
  pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl, 1, 1) && assignedAtLeast(pl, 2, 1); }, 60s))
      << "members 1 and 2 never got partitions";

  const auto t0 = std::chrono::steady_clock::now();
  // Chunks, so the steps below can wait for a point in the production; rate-limited so the
  // production spans both membership changes.
  ChunkedProducer producer(pl.bootstrap(), pl.topic(), kPartitions, kChunks, kChunk, kProduceRate);
  const auto produced = [&] { return producer.produced(); };

  // A fourth member joins once 30% is produced.
  ASSERT_TRUE(waitFor([&] { return produced() >= kEvents * 3 / 10; }, 60s));
  const std::size_t fourth = pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl, fourth, 1); }, 60s))
      << "the fourth member never got partitions\n"
      << pl.sluiceLog(fourth);
  const std::int64_t produced_at_join = produced();
  std::cout << "[ figures  ] fourth member assigned after " << produced_at_join
            << " events produced; sink a has " << pl.recordCount(0) << " records\n";

  // Member 1 leaves once 60% is produced.
  ASSERT_TRUE(waitFor([&] { return produced() >= kEvents * 6 / 10; }, 60s));
  const std::int64_t produced_at_leave = produced();
  std::cout << "[ figures  ] member 1 stopping after " << produced_at_leave
            << " events produced; sink a has " << pl.recordCount(0) << " records\n";
  stopGracefully(pl, 1);

  producer.join();
  // Both changes must have happened while events were still being produced.
  EXPECT_LT(produced_at_join, kEvents);
  EXPECT_LT(produced_at_leave, kEvents);

  const auto end = pl.end();
  ASSERT_EQ(total(end), kEvents);
  const auto expected = pl.expectedKeys(end);
  const bool all = pl.waitForAllSinks(expected, 90s);
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    EXPECT_EQ(pl.missingFrom(s, expected), 0u)
        << "sink " << s << " never got these events; logs in " << pl.dir();
  }
  if (all) {
    EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s, 200ms))
        << "committed offsets never reached the end offsets";
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  for (std::size_t i : {std::size_t{0}, std::size_t{2}, fourth}) stopGracefully(pl, i);
  EXPECT_EQ(pl.committed(), end);

  std::cout << "[ figures  ] " << kEvents << " events x 3 sinks, one join and one leave, in "
            << secs << " s\n";
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    const auto r = pl.records(s);
    std::cout << "[ figures  ] sink " << s << ": " << r.all.size() << " requests, "
              << r.duplicates() << " duplicates\n";
  }
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// The partitions sluice i logged as revoked from it (not lost ones).
std::set<std::int32_t> revokedFrom(const Pipeline& pl, std::size_t i) {
  return partitionsLogged(pl.sluiceLog(i), "revok[a-z]* [0-9]+ partition\\(s\\): ([^;\\n]*)");
}

// Issue 12 (1): a revoke must not stall the partitions that stay. librdkafka pauses a member's
// whole assignment when it hands a revoke to the application and resumes it only at the
// incremental unassign; with one sink slow, a member that held the unassign back until the
// revoked partitions drained stopped its other partitions for as long.
TEST(Rebalance, RetainedPartitionsKeepFlowingWhileOthersAreRevoked) {
  constexpr std::int64_t kStep = 1'500;  // one second of production
  constexpr std::int64_t kSteps = 24;
  Pipeline pl("retained", kPartitions);
  pl.startSink("a");
  pl.startSink("b");
  pl.startSink("c", {"--delay-share", "0.01", "--delay-ms", "2000"});
  const std::string config = pl.writeConfig();
  pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl, 0, kPartitions); }, 60s));

  ChunkedProducer producer(pl.bootstrap(), pl.topic(), kPartitions, kSteps, kStep,
                           static_cast<double>(kStep));
  ASSERT_TRUE(waitFor([&] { return producer.produced() >= kStep * 8; }, 60s));
  const std::int64_t join_us = unixMicrosNow();
  const std::size_t joiner = pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl, joiner, 1); }, 60s)) << pl.sluiceLog(joiner);
  producer.join();

  const auto end = pl.end();
  ASSERT_EQ(total(end), kStep * kSteps);
  const auto expected = pl.expectedKeys(end);
  ASSERT_TRUE(pl.waitForAllSinks(expected, 90s)) << "logs in " << pl.dir();
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) EXPECT_EQ(pl.missingFrom(s, expected), 0u);

  const std::set<std::int32_t> revoked = revokedFrom(pl, 0);
  ASSERT_FALSE(revoked.empty()) << "the joining member took nothing from the first\n"
                                << pl.sluiceLog(0);
  ASSERT_LT(revoked.size(), static_cast<std::size_t>(kPartitions));
  // Sink a answers at once: the gaps between its arrivals of one partition's events are the
  // gaps in that partition's flow. At 125 events/s per partition they are ~8 ms apart.
  std::map<std::int32_t, std::vector<std::int64_t>> arrivals;
  for (const auto& r : pl.records(0).all) {
    if (r.arrival_us >= join_us - 2'000'000 && r.arrival_us <= join_us + 10'000'000) {
      arrivals[r.partition].push_back(r.arrival_us);
    }
  }
  double worst_ms = 0;
  for (auto& [partition, times] : arrivals) {
    if (revoked.contains(partition)) continue;
    std::sort(times.begin(), times.end());
    double gap_ms = 0;
    for (std::size_t k = 1; k < times.size(); ++k) {
      gap_ms = std::max(gap_ms, static_cast<double>(times[k] - times[k - 1]) / 1000.0);
    }
    std::cout << "[ figures  ] retained partition " << partition << ": largest gap " << gap_ms
              << " ms\n";
    worst_ms = std::max(worst_ms, gap_ms);
  }
  std::cout << "[ figures  ] " << revoked.size() << " partitions revoked, "
            << kPartitions - static_cast<int>(revoked.size())
            << " retained; largest gap of a retained partition " << worst_ms << " ms\n";
  EXPECT_LT(worst_ms, 1000.0) << "a retained partition stalled during the revoke; logs in "
                              << pl.dir();
  for (std::size_t i : {std::size_t{0}, joiner}) stopGracefully(pl, i);
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s, 200ms));
}

}  // namespace
}  // namespace sluice::testing
