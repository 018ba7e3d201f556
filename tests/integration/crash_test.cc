// Issue 3 (b): kill -9 during delivery, five times, restarting sluice each time. Nothing is
// lost on any sink (duplicates are allowed and counted), nothing is ever committed past an
// event some sink has not accepted, and after a final graceful stop the committed offsets
// reach the end offsets.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <exception>
#include <iostream>
#include <thread>

#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kEvents = 200'000;
constexpr int kPartitions = 12;
constexpr int kKills = 5;

std::int64_t total(const PartitionOffsets& offsets) {
  std::int64_t n = 0;
  for (const auto& [p, o] : offsets) n += o;
  return n;
}

// Keys below the committed offsets that sink `s` has not accepted. With sluice dead nothing
// more is committed, and the sinks only ever add records, so reading the commits first and
// the records second cannot report a false violation.
std::size_t missingBelowCommitted(const Pipeline& pl, const PartitionOffsets& committed,
                                  std::size_t s) {
  PartitionOffsets below;
  for (const auto& [p, off] : committed) below[p] = off > 0 ? off : 0;
  const auto r = pl.records(s);
  std::size_t missing = 0;
  for (const auto& k : pl.expectedKeys(below)) missing += r.count_by_key.contains(k) ? 0 : 1;
  return missing;
}

TEST(Crash, FiveKillNineRestartsLoseNothingOnAnySink) {
  Pipeline pl("crash", kPartitions);
  for (const char* name : {"a", "b", "c"}) pl.startSink(name);
  ConfigOptions options;
  // The killed member's session must expire before its successor gets the partitions:
  // the broker's minimum keeps the five restarts from costing 10 s each.
  options.kafka_properties["session.timeout.ms"] = "6000";
  const std::string config = pl.writeConfig(options);

  const auto t0 = std::chrono::steady_clock::now();
  std::exception_ptr produce_error;
  // Produces the whole run in the background while sluice delivers (and is killed).
  std::jthread producer([&] {
    try {
      pl.produce(kEvents);
    } catch (...) {
      produce_error = std::current_exception();
    }
  });

  std::size_t current = pl.startSluice(config);
  for (int k = 1; k <= kKills; ++k) {
    const auto threshold = static_cast<std::size_t>(kEvents * 15 * k / 100);
    ASSERT_TRUE(waitFor([&] { return pl.recordCount(0) >= threshold; }, 90s))
        << "kill " << k << ": sink a stuck at " << pl.recordCount(0) << " records; logs in "
        << pl.dir();
    pl.sluice(current).signal(SIGKILL);
    const auto status = pl.sluice(current).wait(10s);
    ASSERT_TRUE(status.has_value()) << "sluice survived SIGKILL";
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
        << "sluice ended on its own before the kill; logs in " << pl.dir();

    const auto committed = pl.committed();
    for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
      EXPECT_EQ(missingBelowCommitted(pl, committed, s), 0u)
          << "kill " << k << ": committed past events sink " << s << " never accepted";
    }
    std::cout << "[ figures  ] kill " << k << " at " << pl.recordCount(0)
              << " records on sink a; " << std::max<std::int64_t>(total(committed), 0)
              << " events committed\n";
    current = pl.startSluice(config);
  }

  producer.join();
  if (produce_error) std::rethrow_exception(produce_error);
  const auto end = pl.end();
  ASSERT_EQ(total(end), kEvents);
  const auto expected = pl.expectedKeys(end);
  pl.waitForAllSinks(expected, 150s);
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    EXPECT_EQ(pl.missingFrom(s, expected), 0u)
        << "sink " << s << " never got these events; logs in " << pl.dir();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  pl.sluice(current).signal(SIGTERM);
  const auto status = pl.sluice(current).wait(30s);
  ASSERT_TRUE(status.has_value()) << "sluice did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << pl.sluiceLog(current);
  EXPECT_EQ(pl.committed(), end) << "committed offsets short of the end after a graceful stop";

  std::cout << "[ figures  ] " << kEvents << " events x 3 sinks through " << kKills
            << " kill -9 restarts in " << secs << " s\n";
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    const auto r = pl.records(s);
    std::cout << "[ figures  ] sink " << s << ": " << r.all.size() << " requests, "
              << r.duplicates() << " duplicates ("
              << 100.0 * static_cast<double>(r.duplicates()) / static_cast<double>(kEvents)
              << "%)\n";
  }
}

}  // namespace
}  // namespace sluice::testing
