// Issue 12 (2): the broker goes away mid-run and comes back, once killed (a crash) and once
// stopped cleanly for longer than the group session, after a member was killed with -9 and
// restarted (its dead self still holding partitions): sluice keeps running, says so, resumes
// consuming and committing, and its dead-letter producer recovers. Nothing is lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <sstream>
#include <thread>

#include "delivery/idempotency_key.h"
#include "http_probe.h"
#include "kafka_client.h"
#include "kafka_local.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 6;
constexpr int kBrokerPort = 9192;  // its own broker: stopping 9092 would disturb other tests

// Produces `count` valid events and one invalid record (to the dead-letter topic); returns
// the invalid record's key, which no sink must see.
std::string producePhase(Pipeline& pl, std::int64_t first_seq, std::int64_t count) {
  ProduceOptions o;
  o.count = count;
  o.first_seq = first_seq;
  o.partitions = kPartitions;
  o.body_bytes = 200;
  o.rate_per_sec = 2'000;
  produceEvents(pl.bootstrap(), pl.topic(), o);
  RawRecord bad;
  bad.value = "not json";
  const auto offsets = produceRaw(pl.bootstrap(), pl.topic(), 0, {bad});
  return toSfString(coordinatesKey(pl.topic(), 0, offsets.at(0)));
}

bool everythingThrough(Pipeline& pl, const std::set<std::string>& invalid,
                       std::chrono::seconds timeout) {
  const auto end = pl.end();
  std::set<std::string> expected = pl.expectedKeys(end);
  for (const auto& k : invalid) expected.erase(k);
  return pl.waitForAllSinks(expected, timeout) &&
         waitFor([&] { return pl.committed() == end; }, 30s, 200ms);
}

int readyStatus(int port) { return request(port, "GET", "/readyz").status; }

TEST(BrokerRestart, CrashAndLongStopLoseNothingAndEverythingResumes) {
  KafkaLocal broker(kBrokerPort);
  broker.start();
  Pipeline pl("broker-restart", kPartitions, broker.bootstrap());
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1);
  pl.startSink("a");
  pl.startSink("b");
  // Slow answers keep deliveries in flight when partitions move.
  pl.startSink("c", {"--delay-share", "0.01", "--delay-ms", "2000"});
  const int port = freePort();
  ConfigOptions options;
  options.extra = "dead_letter: {topic: " + dlq + "}\nmetrics: {listen: \"127.0.0.1:" +
                  std::to_string(port) + "\"}\n";
  pl.startSluice(pl.writeConfig(options));
  // The second member has no status port: two members cannot share one. (Each config file is
  // named after the next member's index: write it just before starting that member.)
  ConfigOptions quiet;
  quiet.extra = "dead_letter: {topic: " + dlq + "}\n";
  const std::string config_quiet = pl.writeConfig(quiet);
  pl.startSluice(config_quiet);
  ASSERT_TRUE(waitFor([&] { return readyStatus(port) == 200; }, 60s)) << pl.sluiceLog(0);

  std::set<std::string> invalid;
  invalid.insert(producePhase(pl, 0, 2'000));
  ASSERT_TRUE(everythingThrough(pl, invalid, 60s)) << "logs in " << pl.dir();

  // A member dies and comes back as a new one; its dead self keeps its partitions until the
  // session times out, which the broker outage below overlaps.
  pl.sluice(1).signal(SIGKILL);
  pl.sluice(1).wait(10s);
  const std::size_t restarted = pl.startSluice(config_quiet);

  // 1. The broker crashes and comes back at once.
  broker.kill();
  std::this_thread::sleep_for(3s);
  broker.start();
  invalid.insert(producePhase(pl, 2'000, 2'000));
  ASSERT_TRUE(everythingThrough(pl, invalid, 90s)) << "after the crash; logs in " << pl.dir();

  // 2. A member joins, and while the others give partitions up to it, the broker stops
  // cleanly for longer than every member's session. (sluice once deferred the unassign of
  // revoked partitions until they drained; a revoke pending across such an outage could
  // unassign partitions after they had been assigned again, leaving them unread for good.)
  const auto revokes = [&] {
    int n = 0;
    for (std::size_t i : {std::size_t{0}, restarted}) {
      const std::string log = pl.sluiceLog(i);
      for (std::size_t at = 0; (at = log.find(" revoked ", at)) != std::string::npos; ++at) ++n;
    }
    return n;
  };
  const int revokes_before = revokes();
  const std::size_t joiner = pl.startSluice(config_quiet);
  ASSERT_TRUE(waitFor([&] { return revokes() > revokes_before; }, 60s)) << pl.sluiceLog(0);
  broker.stop();
  bool unready = false;
  const auto outage_end = std::chrono::steady_clock::now() + 25s;
  while (std::chrono::steady_clock::now() < outage_end) {
    unready = unready || readyStatus(port) == 503;
    std::this_thread::sleep_for(500ms);
  }
  for (std::size_t i : {std::size_t{0}, restarted, joiner}) {
    ASSERT_FALSE(pl.sluice(i).wait(0ms).has_value()) << "sluice " << i << " exited\n"
                                                        << pl.sluiceLog(i);
  }
  broker.start();
  invalid.insert(producePhase(pl, 4'000, 2'000));
  ASSERT_TRUE(everythingThrough(pl, invalid, 120s)) << "after the long stop; logs in " << pl.dir();
  EXPECT_TRUE(unready) << "/readyz said ready throughout a 25 s broker outage";
  EXPECT_TRUE(waitFor([&] { return readyStatus(port) == 200; }, 30s));

  // The dead-letter producer came back too: every invalid record is on the topic.
  const auto letters = readTopic(pl.bootstrap(), dlq, invalid.size(), 30s);
  EXPECT_EQ(letters.size(), invalid.size());
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    const auto r = pl.records(s);
    for (const auto& k : invalid) EXPECT_FALSE(r.count_by_key.contains(k));
    std::cout << "[ figures  ] sink " << s << ": " << r.all.size() << " requests, "
              << r.duplicates() << " duplicates\n";
  }
  const std::string log = pl.sluiceLog(0);
  std::cout << "[ figures  ] member 0 "
            << (log.find(" lost ") != std::string::npos ? "lost its partitions"
                                                         : "kept its partitions")
            << " in the outage; first lines about the broker:\n";
  std::istringstream in(log);
  int shown = 0;
  for (std::string line; std::getline(in, line) && shown < 6;) {
    if (line.find("kafka:") != std::string::npos || line.find(" lost ") != std::string::npos) {
      std::cout << "    " << line.substr(0, 200) << "\n";
      ++shown;
    }
  }
  for (std::size_t i : {std::size_t{0}, restarted, joiner}) {
    pl.sluice(i).signal(SIGTERM);
    EXPECT_TRUE(pl.sluice(i).wait(30s).has_value());
  }
}

}  // namespace
}  // namespace sluice::testing
