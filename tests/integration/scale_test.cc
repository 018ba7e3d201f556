// Issue 12 (3): members scaled 1 -> 3 -> 1 while events are produced. Nothing is lost, each
// joining member delivers within 3 s of its assignment, and the partitions that never moved
// see no duplicates (a rebalance redelivers only what was in flight in moved partitions).
#include <gtest/gtest.h>

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
constexpr std::int64_t kStep = 1'500;  // one second of production
constexpr std::int64_t kSteps = 36;

TEST(Scale, OneToThreeToOneMembersLosesNothingAndUnmovedPartitionsSeeNoDuplicates) {
  Pipeline pl("scale", kPartitions);
  for (const char* name : {"a", "b", "c"}) pl.startSink(name);
  const std::string config = pl.writeConfig();
  pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl.sluiceLog(0), kPartitions); }, 60s));

  ChunkedProducer producer(pl.bootstrap(), pl.topic(), kPartitions, kSteps, kStep,
                           static_cast<double>(kStep));
  ASSERT_TRUE(waitFor([&] { return producer.produced() >= kStep * 8; }, 60s));
  const std::size_t first_joiner = pl.startSluice(config);
  pl.startSluice(config);
  const std::vector<std::size_t> joiners = {first_joiner, first_joiner + 1};
  for (std::size_t j : joiners) {
    ASSERT_TRUE(waitFor([&] { return assignedAtLeast(pl.sluiceLog(j), 1); }, 60s))
        << "member " << j << " never got partitions\n"
        << pl.sluiceLog(j);
  }
  ASSERT_TRUE(waitFor([&] { return producer.produced() >= kStep * 22; }, 60s));
  ASSERT_FALSE(producer.done()) << "production ended before the scale-in";
  for (std::size_t j : joiners) stopGracefully(pl, j);
  producer.join();

  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  ASSERT_TRUE(pl.waitForAllSinks(expected, 90s)) << "logs in " << pl.dir();
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    EXPECT_EQ(pl.missingFrom(s, expected), 0u) << "sink " << s << " lost events; logs in "
                                               << pl.dir();
  }
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s, 200ms))
      << "committed offsets never reached the end offsets";
  // Read before member 0 stops: its own shutdown revokes everything.
  const std::set<std::int32_t> moved = partitionsLogged(
      pl.sluiceLog(0), "(?:revok|lost)[a-z]* [0-9]+ partition\\(s\\): ([^;\\n]*)");
  stopGracefully(pl, 0);

  // Sink a answers at once, so the first arrival of a partition's event after a joiner's
  // assignment is that joiner delivering it (the member before it gave the partition up
  // before the assignment was made).
  const auto arrivals = pl.records(0).all;
  for (std::size_t j : joiners) {
    const auto assignments = assignmentsLogged(pl.sluiceLog(j));
    const auto first = std::find_if(assignments.begin(), assignments.end(),
                                    [](const auto& a) { return !a.partitions.empty(); });
    ASSERT_NE(first, assignments.end());
    for (const std::int32_t p : first->partitions) {
      std::int64_t first_us = -1;
      for (const auto& r : arrivals) {
        if (r.partition == p && r.arrival_us >= first->at_us &&
            (first_us < 0 || r.arrival_us < first_us)) {
          first_us = r.arrival_us;
        }
      }
      ASSERT_GE(first_us, 0) << "member " << j << " never delivered partition " << p;
      const double after_s = static_cast<double>(first_us - first->at_us) / 1e6;
      std::cout << "[ figures  ] member " << j << ": partition " << p
                << " first delivered " << after_s << " s after its assignment\n";
      EXPECT_LT(after_s, 3.0) << "member " << j << " partition " << p << "; logs in " << pl.dir();
    }
  }

  std::set<std::int32_t> unmoved;
  for (std::int32_t p = 0; p < kPartitions; ++p) {
    if (!moved.contains(p)) unmoved.insert(p);
  }
  ASSERT_FALSE(unmoved.empty()) << "member 0 gave every partition away";
  ASSERT_FALSE(moved.empty()) << "the joiners took nothing";
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    const auto r = pl.records(s);
    std::size_t unmoved_duplicates = 0;
    std::map<std::string, int> seen;
    for (const auto& rec : r.all) {
      if (unmoved.contains(rec.partition) && ++seen[rec.key] > 1) ++unmoved_duplicates;
    }
    std::cout << "[ figures  ] sink " << s << ": " << r.duplicates() << " duplicates in all, "
              << unmoved_duplicates << " in the " << unmoved.size()
              << " partitions that never moved\n";
    EXPECT_EQ(unmoved_duplicates, 0u) << "sink " << s << "; logs in " << pl.dir();
  }
}

}  // namespace
}  // namespace sluice::testing
