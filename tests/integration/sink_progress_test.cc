// Issue 12 (5): each sink's own progress, kept in Kafka (groups "<group>.sink.<name>"). A
// member killed while one sink is down no longer costs the other sinks everything they took
// meanwhile; and an operator who resets the group's offsets to replay gets every event
// delivered to every sink again.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "chunked_producer.h"
#include "members.h"
#include "pipeline.h"
#include "sluice_log.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 6;

struct Duplicates {
  std::size_t a = 0, b = 0, c = 0;
};

// Sink c goes down; once sink a is well ahead of it, sluice is killed with -9 and restarted,
// and c comes back. Returns each sink's duplicates.
Duplicates killWhileASinkIsDown(bool sink_progress) {
  Pipeline pl(sink_progress ? "progress-on" : "progress-off", kPartitions);
  for (const char* s : {"a", "b", "c"}) pl.startSink(s);
  ConfigOptions o;
  o.kafka_properties["session.timeout.ms"] = "6000";
  o.delivery_extra = sink_progress ? "  sink_progress: true\n" : "  sink_progress: false\n";
  const std::string config = pl.writeConfig(o);
  pl.startSluice(config);
  EXPECT_TRUE(waitFor([&] { return assignedAtLeast(pl.sluiceLog(0), kPartitions); }, 60s));

  ChunkedProducer producer(pl.bootstrap(), pl.topic(), kPartitions, 24, 1'000, 2'000);
  EXPECT_TRUE(waitFor([&] { return producer.produced() >= 2'000; }, 60s));
  const std::size_t c_before = pl.recordCount(2);
  pl.stopSink(2);
  EXPECT_TRUE(waitFor([&] { return pl.recordCount(0) >= c_before + 6'000; }, 60s));
  pl.sluice(0).signal(SIGKILL);
  pl.sluice(0).wait(10s);
  const std::size_t restarted = pl.startSluice(config);
  std::this_thread::sleep_for(2s);
  pl.startSink("c", {}, pl.sinkPort(2));
  producer.join();

  const auto end = pl.end();
  EXPECT_TRUE(pl.waitForAllSinks(pl.expectedKeys(end), 90s)) << "logs in " << pl.dir();
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s, 200ms));
  stopGracefully(pl, restarted);
  Duplicates d{pl.records(0).duplicates(), pl.records(1).duplicates(), pl.records(2).duplicates()};
  std::cout << "[ figures  ] sink progress " << (sink_progress ? "on" : "off")
            << ": duplicates a " << d.a << ", b " << d.b << ", c " << d.c << " of 24000 events\n";
  return d;
}

TEST(SinkProgress, AKillWhileASinkIsDownCostsTheOthersLittle) {
  const Duplicates off = killWhileASinkIsDown(false);
  const Duplicates on = killWhileASinkIsDown(true);
  // Without it, a and b get again what they took while c was down (about 6000 each).
  EXPECT_GT(off.a, 3'000u);
  EXPECT_GT(off.b, 3'000u);
  EXPECT_LT(on.a * 4, off.a);
  EXPECT_LT(on.b * 4, off.b);
}

TEST(SinkProgress, AGroupResetToReplayDeliversEverythingAgain) {
  Pipeline pl("replay", kPartitions);
  pl.startSink("a");
  pl.startSink("b");
  ConfigOptions o;
  o.extra = "log_level: debug\n";
  o.delivery_extra = "  sink_progress: true\n";
  const std::string config = pl.writeConfig(o);
  pl.startSluice(config);
  pl.produce(3'000);
  const auto end = pl.end();
  ASSERT_TRUE(pl.waitForAllSinks(pl.expectedKeys(end), 60s)) << "logs in " << pl.dir();
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s, 200ms));
  // Each sink's progress reaches the end too, in its own group.
  for (const char* sink : {"a", "b"}) {
    EXPECT_TRUE(waitFor(
        [&] {
          return committedOffsets(pl.bootstrap(), pl.group() + ".sink." + sink, pl.topic(),
                                  kPartitions) == end;
        },
        30s, 500ms))
        << "sink " << sink << "'s progress never reached the end";
  }
  stopGracefully(pl, 0);

  PartitionOffsets zero;
  for (int p = 0; p < kPartitions; ++p) zero[p] = 0;
  commitGroupOffsets(pl.bootstrap(), pl.group(), pl.topic(), zero);
  pl.startSluice(config);
  EXPECT_TRUE(waitFor([&] { return pl.recordCount(0) >= 6'000 && pl.recordCount(1) >= 6'000; },
                      60s))
      << "the replay did not reach the sinks; logs in " << pl.dir();
  for (std::size_t s = 0; s < 2; ++s) {
    const auto r = pl.records(s);
    std::size_t twice = 0;
    for (const auto& [key, n] : r.count_by_key) twice += n == 2 ? 1 : 0;
    EXPECT_EQ(twice, 3'000u) << "sink " << s << ": every event once more after the reset";
  }
  stopGracefully(pl, 1);
}

}  // namespace
}  // namespace sluice::testing
