// SIGTERM drains what is in flight, commits it and exits 0; a second signal exits at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST(Shutdown, SigtermDrainsInFlightDeliveriesCommitsAndExitsZero) {
  Pipeline pl("drain", 4);
  // Every answer takes 400 ms, so plenty is in flight when the signal comes.
  for (const char* s : {"a", "b", "c"}) pl.startSink(s, {"--latency-ms", "400"});
  pl.startSluice(pl.writeConfig());
  pl.produce(3'000);
  ASSERT_TRUE(waitFor([&] { return pl.recordCount(0) >= 200; }, 30s));
  pl.sluice(0).signal(SIGTERM);
  const auto status = pl.sluice(0).wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << pl.sluiceLog(0);
  const std::string log = pl.sluiceLog(0);
  EXPECT_NE(log.find("draining"), std::string::npos);
  EXPECT_EQ(log.find("undelivered events"), std::string::npos) << "grace was long enough";
  // What was committed reached every sink, and something was committed at all. (A sink
  // writes its records every 50 ms, so the last answers may reach its file just after
  // sluice exited: each sink gets a moment to have them all.)
  const auto committed = pl.committed();
  std::int64_t total = 0;
  for (const auto& [p, off] : committed) {
    ASSERT_GE(off, 0) << "partition " << p << " has no commit after a clean stop";
    total += off;
    const auto below_commit = pl.expectedKeys({{p, off}});
    for (std::size_t s = 0; s < 3; ++s) {
      waitFor([&] { return pl.sinkHasAll(s, below_commit); }, 2s);
      const auto records = pl.records(s);
      for (const auto& k : below_commit) {
        ASSERT_TRUE(records.count_by_key.contains(k)) << k << " committed, not at sink " << s;
      }
    }
  }
  EXPECT_GT(total, 0);
  // A restarted member takes it from there and everything arrives.
  pl.startSluice(pl.writeConfig());
  const auto end = pl.end();
  for (std::size_t s = 0; s < 3; ++s) {
    EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(s, pl.expectedKeys(end)); }, 60s));
  }
}

TEST(Shutdown, SecondSignalExitsAtOnce) {
  Pipeline pl("twice", 2);
  // Answers take 20 s: the first signal starts a drain that cannot finish soon.
  for (const char* s : {"a", "b"}) pl.startSink(s, {"--latency-ms", "20000"});
  pl.startSluice(pl.writeConfig());
  pl.produce(100);
  std::this_thread::sleep_for(2s);  // let requests go out
  pl.sluice(0).signal(SIGTERM);
  EXPECT_FALSE(pl.sluice(0).wait(1s).has_value()) << "exited before its grace period";
  const auto t0 = std::chrono::steady_clock::now();
  pl.sluice(0).signal(SIGINT);
  const auto status = pl.sluice(0).wait(5s);
  ASSERT_TRUE(status.has_value()) << "a second signal did not end the process";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGINT);
  for (const auto& [p, off] : pl.committed()) EXPECT_LE(off, 0) << "nothing was delivered";
}

}  // namespace
}  // namespace sluice::testing
