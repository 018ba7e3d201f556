// Issue 3 (d): group membership changes while events are produced and delivered. Three sluice
// processes share the group on 12 partitions; a fourth joins and one of the first three stops
// (SIGTERM) mid-run. Every event reaches every sink and the commits reach the end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <exception>
#include <iostream>
#include <regex>
#include <thread>

#include "pipeline.h"

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

// True once sluice i has logged an assignment of at least `min` partitions (a cooperative
// rebalance also hands out empty assignments).
bool assignedAtLeast(const Pipeline& pl, std::size_t i, int min) {
  static const std::regex kAssigned(" assigned ([0-9]+) partition");
  const std::string log = pl.sluiceLog(i);
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kAssigned);
       it != std::sregex_iterator(); ++it) {
    if (std::stoi((*it)[1].str()) >= min) return true;
  }
  return false;
}

void stopGracefully(Pipeline& pl, std::size_t i) {
  pl.sluice(i).signal(SIGTERM);
  const auto status = pl.sluice(i).wait(30s);
  ASSERT_TRUE(status.has_value()) << "sluice " << i << " did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << pl.sluiceLog(i);
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
  std::atomic<std::int64_t> produced{0};
  std::exception_ptr produce_error;
  // Chunks, so the steps below can wait for a point in the production; rate-limited so the
  // production spans both membership changes.
  std::jthread producer([&] {
    try {
      for (std::int64_t c = 0; c < kChunks; ++c) {
        ProduceOptions o;
        o.count = kChunk;
        o.first_seq = c * kChunk;
        o.partitions = kPartitions;
        o.body_bytes = 200;
        o.rate_per_sec = kProduceRate;
        produceEvents(pl.bootstrap(), pl.topic(), o);
        produced += kChunk;
      }
    } catch (...) {
      produce_error = std::current_exception();
      produced = kEvents;
    }
  });

  // A fourth member joins once 30% is produced.
  ASSERT_TRUE(waitFor([&] { return produced >= kEvents * 3 / 10; }, 60s));
  const std::size_t fourth = pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl, fourth, 1); }, 60s))
      << "the fourth member never got partitions\n"
      << pl.sluiceLog(fourth);
  const std::int64_t produced_at_join = produced;
  std::cout << "[ figures  ] fourth member assigned after " << produced_at_join
            << " events produced; sink a has " << pl.recordCount(0) << " records\n";

  // Member 1 leaves once 60% is produced.
  ASSERT_TRUE(waitFor([&] { return produced >= kEvents * 6 / 10; }, 60s));
  const std::int64_t produced_at_leave = produced;
  std::cout << "[ figures  ] member 1 stopping after " << produced_at_leave
            << " events produced; sink a has " << pl.recordCount(0) << " records\n";
  stopGracefully(pl, 1);

  producer.join();
  if (produce_error) std::rethrow_exception(produce_error);
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
