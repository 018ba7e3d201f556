// Issue 12 (4), the short form of bench/chaos: 100k events while sluice members are killed
// with -9 five times, a sink is down for 10 s, the broker restarts and the group scales out
// from 1 to 3 members, at random times from a printed seed (SLUICE_CHAOS_SEED repeats a run).
// Nothing is lost on any sink, the committed offsets reach the end, nothing is dead-lettered
// and every member exits cleanly at the end.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>

#include "chaos.h"

namespace sluice::testing {
namespace {

TEST(Chaos, KillsASinkOutageABrokerRestartAndAScaleOutLoseNothing) {
  ChaosPlan plan;
  plan.events = 100'000;
  plan.produce_rate = 3'000;
  plan.kills = 5;
  plan.sink_outages = 1;
  plan.outage = std::chrono::seconds(10);
  plan.broker_restarts = 1;
  plan.broker_down = std::chrono::seconds(8);
  plan.peak_members = 3;
  plan.scale_back = false;
  const char* seed = std::getenv("SLUICE_CHAOS_SEED");
  plan.seed = seed != nullptr && *seed != '\0' ? std::stoull(seed) : std::random_device{}();
  std::cout << "[ chaos    ] seed " << plan.seed << " (SLUICE_CHAOS_SEED=" << plan.seed
            << " repeats this run)\n";

  const ChaosReport report = runChaos(plan, std::cout);
  printChaosReport(plan, report, std::cout);
  EXPECT_EQ(report.events_in_topic, plan.events);
  EXPECT_EQ(report.kills, plan.kills);
  ASSERT_EQ(report.sinks.size(), 3u);
  for (const auto& s : report.sinks) {
    EXPECT_EQ(s.lost, 0u) << "sink " << s.name << " lost events; logs in " << report.dir;
  }
  EXPECT_TRUE(report.committed_reach_end) << "logs in " << report.dir;
  EXPECT_EQ(report.dead_letters, 0);
  EXPECT_TRUE(report.members_exit_cleanly) << "logs in " << report.dir;
}

}  // namespace
}  // namespace sluice::testing
