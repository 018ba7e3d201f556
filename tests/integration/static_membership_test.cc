// Issue 12 (3): a member killed with -9 and restarted. Without static membership the restarted
// process is a new member, and the dead one keeps its partitions until its session times out;
// with kafka.properties group.instance.id (the chart sets it from the pod name) the restarted
// member takes its partitions back at once. Nothing is lost either way.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "pipeline.h"
#include "sluice_log.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 6;

// The partitions sluice i was last assigned (it joins second, so one assign line says it all).
std::set<std::int32_t> assignedTo(const Pipeline& pl, std::size_t i) {
  return partitionsLogged(pl.sluiceLog(i), " assigned [0-9]+ partition\\(s\\): ([^(\\n]*)");
}

// Kills member 1 once production is under way, restarts it at once, and returns the longest
// time any of its partitions went without a delivery at sink a, in seconds.
double outageOfAKilledMember(bool static_membership) {
  Pipeline pl(static_membership ? "static" : "dynamic", kPartitions);
  for (const char* s : {"a", "b", "c"}) pl.startSink(s);
  const auto configFor = [&](const char* id) {
    ConfigOptions o;
    if (static_membership) o.kafka_properties["group.instance.id"] = id;
    return pl.writeConfig(o);
  };
  pl.startSluice(configFor("member-0"));
  EXPECT_TRUE(waitFor([&] { return assignedTo(pl, 0).size() == kPartitions; }, 60s));
  const std::string config1 = configFor("member-1");
  pl.startSluice(config1);
  EXPECT_TRUE(waitFor([&] { return !assignedTo(pl, 1).empty(); }, 60s)) << pl.sluiceLog(1);
  const std::set<std::int32_t> owned = assignedTo(pl, 1);

  std::jthread producer([&] {
    ProduceOptions o;
    o.count = 15'000;
    o.partitions = kPartitions;
    o.body_bytes = 200;
    o.rate_per_sec = 600;  // 25 s
    produceEvents(pl.bootstrap(), pl.topic(), o);
  });
  std::this_thread::sleep_for(5s);
  const std::int64_t kill_us = unixMicrosNow();
  pl.sluice(1).signal(SIGKILL);
  pl.sluice(1).wait(10s);
  pl.startSluice(config1);  // the same config file, so the same instance id
  producer.join();
  const auto end = pl.end();
  EXPECT_TRUE(pl.waitForAllSinks(pl.expectedKeys(end), 90s)) << "logs in " << pl.dir();

  std::map<std::int32_t, std::vector<std::int64_t>> arrivals;
  for (const auto& r : pl.records(0).all) {
    if (owned.contains(r.partition) && r.arrival_us >= kill_us - 1'000'000) {
      arrivals[r.partition].push_back(r.arrival_us);
    }
  }
  double worst = 0;
  for (auto& [p, times] : arrivals) {
    std::sort(times.begin(), times.end());
    for (std::size_t k = 1; k < times.size(); ++k) {
      worst = std::max(worst, static_cast<double>(times[k] - times[k - 1]) / 1e6);
    }
  }
  std::cout << "[ figures  ] " << (static_membership ? "static" : "dynamic")
            << " membership: member 1 owned " << owned.size()
            << " partition(s); longest gap in their deliveries after kill -9 and restart " << worst
            << " s\n";
  for (std::size_t i = 0; i < pl.sluiceCount(); ++i) pl.sluice(i).signal(SIGTERM);
  for (std::size_t i = 0; i < pl.sluiceCount(); ++i) pl.sluice(i).wait(30s);
  return worst;
}

TEST(StaticMembership, ARestartedMemberTakesItsPartitionsBackAtOnce) {
  const double dynamic = outageOfAKilledMember(false);
  const double fixed = outageOfAKilledMember(true);
  // The tests' session timeout is 10 s: a new member waits it out, a static one does not.
  EXPECT_GT(dynamic, 8.0);
  EXPECT_LT(fixed, 5.0);
}

}  // namespace
}  // namespace sluice::testing
