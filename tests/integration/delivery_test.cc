// Delivery guarantees against the real local Kafka broker, the real sluice binary and
// recording sinks in their own processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <iostream>

#include "members.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

std::int64_t total(const PartitionOffsets& offsets) {
  std::int64_t n = 0;
  for (const auto& [p, o] : offsets) n += o;
  return n;
}

// Issue 3 (a): every sink receives every event; the committed offsets reach the end offsets.
TEST(Delivery, EverySinkGetsEveryEventAndCommitsReachTheEnd) {
  Pipeline pl("all", 12);
  for (const char* name : {"a", "b", "c"}) pl.startSink(name);
  const auto t0 = std::chrono::steady_clock::now();
  pl.startSluice(pl.writeConfig());
  pl.produce(100'000);
  const auto end = pl.end();
  ASSERT_EQ(total(end), 100'000);
  const auto expected = pl.expectedKeys(end);

  for (std::size_t s = 0; s < 3; ++s) {
    EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(s, expected); }, 180s))
        << "sink " << s << " misses " << pl.missingFrom(s, expected) << " events";
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ figures  ] 100000 events x 3 sinks delivered in " << secs << " s ("
            << 100'000 / secs << " events/s end to end, including produce)\n";
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s))
      << "committed offsets never reached the end offsets";

  stopGracefully(pl, 0);
  EXPECT_EQ(pl.committed(), end);
  for (std::size_t s = 0; s < 3; ++s) {
    const auto r = pl.records(s);
    // Each record carries its own coordinates and the body sluice was given.
    for (const auto& rec : r.all) {
      ASSERT_EQ(rec.topic, pl.topic());
      ASSERT_LT(rec.offset, end.at(rec.partition));
    }
    std::cout << "[ figures  ] sink " << s << ": " << r.all.size() << " requests, "
              << r.duplicates() << " duplicates\n";
  }
}

// Issue 3 (c): with one sink refusing connections, nothing past that sink's first
// undelivered event is committed, across a kill -9 and restart; once it is back, every event
// reaches it and the commits catch up.
TEST(Delivery, DownSinkHoldsCommitsBackUntilItRecovers) {
  Pipeline pl("down", 4);
  pl.startSink("a");
  pl.startSink("b");
  // Binds (so the port is known and reserved for the restart), then refuses for an hour.
  const auto c = pl.startSink("c", {"--refuse-after-ms", "0", "--refuse-for-ms", "3600000"});
  const std::string config = pl.writeConfig();
  pl.startSluice(config);
  pl.produce(2'000);
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  ASSERT_TRUE(waitFor([&] { return pl.sinkHasAll(0, expected) && pl.sinkHasAll(1, expected); },
                      60s));
  std::this_thread::sleep_for(1s);  // several commit intervals: give a wrong commit its chance
  for (const auto& [p, off] : pl.committed()) {
    EXPECT_LE(off, 0) << "partition " << p << " committed past an event sink c never got";
  }

  pl.sluice(0).signal(SIGKILL);
  pl.sluice(0).wait(10s);
  pl.startSluice(config);
  std::this_thread::sleep_for(3s);
  for (const auto& [p, off] : pl.committed()) EXPECT_LE(off, 0) << "partition " << p;
  EXPECT_EQ(pl.records(c).all.size(), 0u);

  pl.killSink(c);
  pl.startSink("c", {}, pl.sinkPort(c));  // back, on the same port
  EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(c, expected); }, 60s))
      << "sink c misses " << pl.missingFrom(c, expected);
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s));
  stopGracefully(pl, 1);
}

}  // namespace
}  // namespace sluice::testing
