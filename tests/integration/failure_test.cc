// Failure semantics against the real broker: permanent answers and invalid events end up on
// the dead-letter topic (checked field by field), retryable ones are retried until delivered,
// memory stays bounded with a sink down, and the ordering modes hold under retries.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <unistd.h>

#include "delivery/idempotency_key.h"
#include "members.h"
#include "pipeline.h"
#include "proc_stats.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

std::string keyOf(const std::string& topic, std::int32_t p, std::int64_t o) {
  return toSfString(coordinatesKey(topic, p, o));
}

std::string deadLetterConfig(const std::string& topic) {
  return "dead_letter:\n  topic: " + topic + "\n";
}

std::int64_t endOf(const std::string& bootstrap, const std::string& topic) {
  return endOffsets(bootstrap, topic, 1).at(0);
}

TEST(Failures, PermanentRejectionsGoToTheDeadLetterTopic) {
  Pipeline pl("perm", 3);
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1);
  const auto a = pl.startSink("a", {"--status", "422", "--status-share", "0.2", "--seed", "7"});
  const auto b = pl.startSink("b", {"--status", "400", "--status-share", "0.1", "--seed", "8"});
  const auto c = pl.startSink("c");
  ConfigOptions options;
  options.extra = deadLetterConfig(dlq);
  pl.startSluice(pl.writeConfig(options));
  pl.produce(600);
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 60s)) << pl.sluiceLog(0);
  ASSERT_TRUE(pl.sinkHasAll(c, expected));

  const auto dead = readTopic(pl.bootstrap(), dlq, static_cast<std::size_t>(endOf(pl.bootstrap(), dlq)), 30s);
  ASSERT_GT(dead.size(), 60u);   // ~20% + ~10% of 600, minus overlap
  ASSERT_LT(dead.size(), 300u);
  const auto rec_a = pl.records(a);
  const auto rec_b = pl.records(b);
  std::set<std::string> dead_for_a, dead_for_b;
  for (const auto& d : dead) {
    const auto& h = d.headers;
    ASSERT_EQ(h.at("sluice.reason"), "permanent_status");
    ASSERT_EQ(h.at("sluice.source.topic"), pl.topic());
    ASSERT_EQ(h.at("sluice.attempts"), "1");  // a permanent answer is not retried
    ASSERT_TRUE(h.contains("sluice.source.timestamp"));
    const int p = std::stoi(h.at("sluice.source.partition"));
    const std::int64_t o = std::stoll(h.at("sluice.source.offset"));
    // Key and value unchanged: the test producer wrote seq = offset * partitions + partition.
    const std::int64_t seq = o * pl.partitions() + p;
    ASSERT_EQ(d.key, "k" + std::to_string(seq));
    ASSERT_NE(d.value.find("{\"seq\":" + std::to_string(seq) + ","), std::string::npos);
    const std::string sinks = h.at("sluice.sinks");
    const std::string key = keyOf(pl.topic(), p, o);
    ASSERT_TRUE(sinks == "a" || sinks == "b" || sinks == "a,b" || sinks == "b,a") << sinks;
    if (sinks.find('a') != std::string::npos) dead_for_a.insert(key);
    if (sinks.find('b') != std::string::npos) dead_for_b.insert(key);
    ASSERT_TRUE(h.at("sluice.status") == "422" || h.at("sluice.status") == "400");
    if (sinks == "a") {
      ASSERT_EQ(h.at("sluice.status"), "422");
    } else if (sinks == "b") {
      ASSERT_EQ(h.at("sluice.status"), "400");
    }
  }
  // Every event reached each sink or is on the dead-letter topic naming that sink; never both.
  for (const auto& k : expected) {
    EXPECT_NE(rec_a.count_by_key.contains(k), dead_for_a.contains(k)) << k;
    EXPECT_NE(rec_b.count_by_key.contains(k), dead_for_b.contains(k)) << k;
  }
  std::cout << "[ figures  ] dead letters: " << dead.size() << " of 600 (sink a 422: "
            << dead_for_a.size() << ", sink b 400: " << dead_for_b.size() << ")\n";
  stopGracefully(pl, 0);
}

// The dead-letter topic does not exist yet (the broker does not create topics on use): the
// rejected events are not done, so nothing past them is committed; once the topic exists
// they land there and the commits catch up.
TEST(Failures, UnavailableDeadLetterTopicHoldsTheCommit) {
  Pipeline pl("dlqdown", 1);
  const std::string dlq = pl.topic() + "-dlq";
  pl.startSink("a", {"--status", "422", "--status-share", "1.0"});
  const auto b = pl.startSink("b");
  ConfigOptions options;
  options.extra = deadLetterConfig(dlq);
  pl.startSluice(pl.writeConfig(options));
  pl.produce(50);
  const auto end = pl.end();
  ASSERT_TRUE(waitFor([&] { return pl.sinkHasAll(b, pl.expectedKeys(end)); }, 30s));
  std::this_thread::sleep_for(2s);  // ten commit intervals
  EXPECT_LE(pl.committed().at(0), 0) << "committed past events whose dead letter is not written";
  createTopic(pl.bootstrap(), dlq, 1);
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 60s)) << pl.sluiceLog(0);
  const auto dead = readTopic(pl.bootstrap(), dlq, 50, 30s);
  std::set<std::string> offsets;
  for (const auto& d : dead) offsets.insert(d.headers.at("sluice.source.offset"));
  EXPECT_EQ(offsets.size(), 50u);  // every rejected event, at least once
  stopGracefully(pl, 0);
}

TEST(Failures, InvalidEventsGoToTheDeadLetterTopicSayingWhere) {
  Pipeline pl("invalid", 1);
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1);
  const std::string schema = pl.dir() + "/schema.json";
  std::ofstream(schema) << R"({"type":"object","required":["seq"],
      "properties":{"seq":{"type":"integer","minimum":0}}})";
  const auto a = pl.startSink("a");
  const auto b = pl.startSink("b");
  ConfigOptions options;
  options.extra = deadLetterConfig(dlq) + "validation:\n  max_bytes: 200\n  schema: " + schema + "\n";
  pl.startSluice(pl.writeConfig(options));

  const std::vector<RawRecord> records = {
      {"ok1", R"({"seq":1})", {{"trace-id", "t1"}}},
      {"bad-json", R"({"seq":)", {{"trace-id", "t2"}}},
      {"array", "[1,2,3]", {}},
      {"negative", R"({"seq":-5})", {}},
      {"big", R"({"seq":2,"pad":")" + std::string(300, 'x') + "\"}", {}},
      {"ok2", R"({"seq":3})", {}},
  };
  const auto offsets = produceRaw(pl.bootstrap(), pl.topic(), 0, records);
  const auto end = pl.end();
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 60s)) << pl.sluiceLog(0);

  for (auto s : {a, b}) {
    const auto r = pl.records(s);
    EXPECT_EQ(r.count_by_key.size(), 2u);
    EXPECT_TRUE(r.count_by_key.contains(keyOf(pl.topic(), 0, offsets[0])));
    EXPECT_TRUE(r.count_by_key.contains(keyOf(pl.topic(), 0, offsets[5])));
  }
  const auto dead = readTopic(pl.bootstrap(), dlq, 4, 30s);
  ASSERT_EQ(dead.size(), 4u);
  std::map<std::string, RawRecord> by_key;
  for (const auto& d : dead) by_key[d.key] = d;
  const auto& j = by_key.at("bad-json");
  EXPECT_EQ(j.value, records[1].value);
  EXPECT_EQ(j.headers.at("sluice.reason"), "invalid_json");
  EXPECT_EQ(j.headers.at("sluice.where"), "byte 7");
  EXPECT_EQ(j.headers.at("trace-id"), "t2");  // the event's own headers travel along
  EXPECT_EQ(j.headers.at("sluice.source.offset"), std::to_string(offsets[1]));
  EXPECT_FALSE(j.headers.contains("sluice.sinks"));
  const auto& arr = by_key.at("array");
  EXPECT_EQ(arr.headers.at("sluice.reason"), "schema_mismatch");
  EXPECT_EQ(arr.headers.at("sluice.where"), "#");
  EXPECT_NE(arr.headers.at("sluice.error").find("type"), std::string::npos);
  const auto& neg = by_key.at("negative");
  EXPECT_EQ(neg.headers.at("sluice.reason"), "schema_mismatch");
  EXPECT_EQ(neg.headers.at("sluice.where"), "#/seq");
  EXPECT_NE(neg.headers.at("sluice.error").find("minimum"), std::string::npos);
  const auto& big = by_key.at("big");
  EXPECT_EQ(big.headers.at("sluice.reason"), "too_large");
  // Too large for the sinks is likely too large for the dead-letter topic: written without
  // its value, whose size a header keeps.
  EXPECT_TRUE(big.value.empty());
  EXPECT_EQ(big.headers.at("sluice.value_omitted"), std::to_string(records[4].value.size()));
  EXPECT_EQ(big.headers.at("sluice.source.partition"), "0");
  stopGracefully(pl, 0);
}

TEST(Failures, RetryableAnswersAndHangsAreRetriedUntilDelivered) {
  Pipeline pl("retry", 3);
  const auto a = pl.startSink("a", {"--fail-share", "0.2", "--fail-status", "503",
                                    "--retry-after", "1", "--seed", "3"});
  const auto b = pl.startSink("b", {"--hang-share", "0.03", "--seed", "4"});
  const auto c = pl.startSink("c", {"--fail-share", "0.1", "--fail-status", "429", "--seed", "5"});
  pl.startSluice(pl.writeConfig());
  pl.produce(600);
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  for (auto s : {a, b, c}) {
    EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(s, expected); }, 60s))
        << "sink " << s << " misses " << pl.missingFrom(s, expected);
  }
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s));
  for (auto s : {a, b, c}) {
    const auto r = pl.records(s);
    const auto retried = std::count_if(r.all.begin(), r.all.end(),
                                       [](const SinkRecord& x) { return x.attempt > 1; });
    EXPECT_GT(retried, 5) << "sink " << s << " shows no retried delivery";
  }
  stopGracefully(pl, 0);
}

TEST(Failures, MemoryStaysBoundedWithASinkDownAndALargeBacklog) {
  Pipeline pl("memory", 12);
  pl.startSink("a");
  pl.startSink("b");
  const auto c = pl.startSink("c", {"--refuse-after-ms", "0", "--refuse-for-ms", "3600000"});
  ProduceOptions po;
  po.count = 150'000;
  po.partitions = 12;
  po.body_bytes = 1024;  // ~150 MiB of backlog, far more than the in-flight budget
  produceEvents(pl.bootstrap(), pl.topic(), po);
  ConfigOptions options;
  options.max_in_flight_events = 10'000;
  options.delivery_extra = "  max_in_flight_bytes: 16777216\n";
  const auto i = pl.startSluice(pl.writeConfig(options));
  const pid_t pid = pl.sluice(i).pid();
  long peak = 0;
  // Let the healthy sinks take their share of the budget first; then only sink c's circuit
  // is left working.
  ASSERT_TRUE(waitFor([&] { return pl.recordCount(0) >= 10'000 && pl.recordCount(1) >= 10'000; },
                      60s));
  const double cpu_start = cpuSeconds(pid);
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) {
    peak = std::max(peak, peakRssKib(pid));
    ASSERT_TRUE(pl.sluice(i).running()) << pl.sluiceLog(i);
    std::this_thread::sleep_for(500ms);
  }
  peak = std::max(peak, peakRssKib(pid));
  const double cpu = cpuSeconds(pid) - cpu_start;
  const auto a_got = pl.records(0).all.size();
  std::cout << "[ figures  ] sink c down for 60 s with a 150k x 1 KiB backlog: sluice peak RSS "
            << peak / 1024.0 << " MiB; sluice CPU over the 60 s: " << cpu
            << " s; sinks a and b got " << a_got << " events\n";
  EXPECT_GT(a_got, 1000u);  // the healthy sinks were served up to the budget
  EXPECT_EQ(pl.records(c).all.size(), 0u);
  for (const auto& [p, off] : pl.committed()) EXPECT_LE(off, 0) << "partition " << p;
  // What the peak is made of: ~35 MiB of sluice itself (libraries, threads), the events in
  // flight (10k x 1 KiB here), librdkafka's prefetch (an 8 MiB queue whose messages keep the
  // fetch responses they came in), and ~21 KiB per curl handle (its 16 KiB send buffer)
  // of the connections the start-up burst opened to sinks a and b. 46-60 MiB measured over 7
  // runs with a 4 MiB prefetch, 57-59 MiB over 3 with 8 MiB; 59-96 MiB while events pinned
  // their fetch responses and every pooled handle kept a 64 KiB send buffer; 57-83 MiB while
  // the adaptive window took libcurl's transfer time for the latency (tiny while requests
  // waited in the busy loop) and doubled to 512 connections per sink in a third of the runs.
  EXPECT_LT(peak, 80 * 1024) << "resident memory above the bound";
  // A dead sink behind an open circuit costs one paced probe at a time, not a retry storm.
  EXPECT_LT(cpu, 3.0) << "sluice kept busy while the only work was a dead sink";
  stopGracefully(pl, i);
}

TEST(Failures, OrderingModesHoldUnderInjectedRetries) {
  Pipeline pl("order", 4);
  const auto a = pl.startSink("a", {"--fail-share", "0.2", "--retry-after", "0", "--seed", "11"});
  const auto b = pl.startSink("b", {"--fail-share", "0.2", "--retry-after", "0", "--seed", "12"});
  const auto c = pl.startSink("c", {"--fail-share", "0.2", "--retry-after", "0", "--seed", "13"});
  ConfigOptions options;
  options.sink_extra["a"] = "    ordering: partition\n";
  options.sink_extra["b"] = "    ordering: key\n";
  pl.startSluice(pl.writeConfig(options));
  constexpr int kKeys = 8;
  ProduceOptions po;
  po.count = 2000;
  po.partitions = pl.partitions();
  po.key_cardinality = kKeys;
  produceEvents(pl.bootstrap(), pl.topic(), po);
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  for (auto s : {a, b, c}) {
    ASSERT_TRUE(waitFor([&] { return pl.sinkHasAll(s, expected); }, 90s))
        << "sink " << s << " misses " << pl.missingFrom(s, expected);
  }
  // The record file is in the order the sink accepted requests.
  auto inversions = [&](std::size_t sink, bool by_key) {
    std::map<std::pair<int, std::int64_t>, std::int64_t> last;  // (partition, key) -> offset
    int count = 0;
    for (const auto& r : pl.records(sink).all) {
      const std::int64_t seq = r.offset * pl.partitions() + r.partition;
      const std::pair<int, std::int64_t> lane{r.partition, by_key ? seq % kKeys : 0};
      auto it = last.find(lane);
      if (it != last.end() && r.offset <= it->second) ++count;
      last[lane] = std::max(r.offset, it == last.end() ? r.offset : it->second);
    }
    return count;
  };
  EXPECT_EQ(inversions(a, false), 0) << "partition order broken at sink a";
  EXPECT_EQ(inversions(b, true), 0) << "key order broken at sink b";
  const int unordered = inversions(c, false);
  std::cout << "[ figures  ] out-of-order acceptances per partition: partition mode 0, key mode "
               "(per key) 0, unordered sink "
            << unordered << "\n";
  EXPECT_GT(unordered, 0) << "the unordered sink should show reordering, else the test "
                             "proves nothing";
  stopGracefully(pl, 0);
}

}  // namespace
}  // namespace sluice::testing
