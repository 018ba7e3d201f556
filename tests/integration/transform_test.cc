// Transforms against the real broker: what each sink receives, what is dropped, and what a
// failing module sends to the dead-letter topic while everything else keeps flowing.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <map>
#include <set>
#include <string>

#include "kafka_client.h"
#include "members.h"
#include "pipeline.h"
#include "process.h"

#ifdef SLUICE_TEST_TRANSFORMS

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

std::string fnv1aHex(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string module(const char* name) {
  return std::string(SLUICE_TEST_TRANSFORMS) + "/" + name + ".wasm";
}

// faulty.wasm (tests/transforms/faulty.c) as the pipeline transform, redact.wasm as sink b's:
// a gets {"wrapped":<event>}, b the same with "card" masked; "drop" events reach nobody;
// "trap", "spin" and "refuse" events go to the dead-letter topic with the reason.
TEST(Transforms, EachSinkGetsItsShapeAndFailuresGoToTheDeadLetterTopic) {
  Pipeline pl("transform", 1);
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1);
  pl.startSink("a");
  pl.startSink("b");
  ConfigOptions o;
  o.extra = "dead_letter:\n  topic: " + dlq + "\n" +
            "transform:\n  module: " + module("faulty") +
            "\n  limits: {time_ms: 200}\n  workers: 2\n";
  o.sink_extra["b"] = "    transform:\n      module: " + module("redact") +
                      "\n      config: {fields: [card]}\n";
  pl.startSluice(pl.writeConfig(o));

  std::map<std::string, std::string> a_expected, b_expected;  // key -> body hash
  std::map<std::string, std::string> failing;                 // key -> what sluice.error says
  std::set<std::string> dropped;
  std::vector<RawRecord> records;
  for (int i = 0; i < 300; ++i) {
    RawRecord r;
    r.key = "k" + std::to_string(i);
    const std::string id = std::to_string(i);
    if (i % 50 == 7) {
      r.value = R"({"id":)" + id + R"(,"cmd":"trap"})";
      failing[r.key] = "unreachable";
    } else if (i % 50 == 17) {
      r.value = R"({"id":)" + id + R"(,"cmd":"spin"})";
      failing[r.key] = "ran out of time";
    } else if (i % 50 == 27) {
      r.value = R"({"id":)" + id + R"(,"cmd":"refuse"})";
      failing[r.key] = "refused by faulty";
    } else if (i % 50 == 37) {
      r.value = R"({"id":)" + id + R"(,"cmd":"drop"})";
      dropped.insert(r.key);
    } else {
      r.value = R"({"id":)" + id + R"(,"card":"4111-)" + id + R"("})";
      a_expected[r.key] = fnv1aHex(R"({"wrapped":)" + r.value + "}");
      b_expected[r.key] = fnv1aHex(R"({"wrapped":{"id":)" + id + R"(,"card":"***"}})");
    }
    records.push_back(std::move(r));
  }
  // One partition: the keys above are Kafka keys; sinks see the coordinates-based
  // Idempotency-Key, so map offsets back to them.
  const auto offsets = produceRaw(pl.bootstrap(), pl.topic(), 0, records);
  std::map<std::int64_t, std::string> key_at;
  for (std::size_t i = 0; i < records.size(); ++i) key_at[offsets[i]] = records[i].key;

  PartitionOffsets end = pl.end();
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 60s)) << "logs in " << pl.dir();
  const auto dead = readTopic(pl.bootstrap(), dlq, failing.size(), 30s);
  ASSERT_EQ(dead.size(), failing.size());
  for (const auto& d : dead) {
    SCOPED_TRACE(d.key);
    ASSERT_TRUE(failing.contains(d.key));
    EXPECT_EQ(d.headers.at("sluice.reason"), "transform_failed");
    EXPECT_NE(d.headers.at("sluice.error").find(failing.at(d.key)), std::string::npos)
        << d.headers.at("sluice.error");
    EXPECT_NE(d.value.find("\"cmd\""), std::string::npos);  // the original record
  }
  const std::map<std::size_t, const std::map<std::string, std::string>*> expected{
      {0, &a_expected}, {1, &b_expected}};
  for (const auto& [sink, want] : expected) {
    SCOPED_TRACE("sink " + pl.sinkName(sink));
    std::map<std::string, std::string> got;
    for (const auto& r : pl.records(sink).all) {
      if (r.partition == 0) got[key_at.at(r.offset)] = r.body_hash;
    }
    EXPECT_EQ(got.size(), want->size());
    for (const auto& [key, hash] : *want) {
      ASSERT_TRUE(got.contains(key)) << key << " never arrived";
      EXPECT_EQ(got.at(key), hash) << key;
    }
    for (const auto& key : dropped) EXPECT_FALSE(got.contains(key)) << key;
    for (const auto& [key, why] : failing) EXPECT_FALSE(got.contains(key)) << key;
  }
  const std::string log = pl.sluiceLog(0);
  EXPECT_NE(log.find("transform pipeline: "), std::string::npos);
  stopGracefully(pl, 0);
}

// route.wasm as the pipeline transform chooses the sinks by the event's "type"; faulty.wasm as
// sink c's transform (in partition order) shapes, drops or fails c's delivery alone: a and b
// are sent the event whatever c's transform does, and an event c's transform fails goes to
// the dead-letter topic naming c. Routed and dropped events are committed like the rest.
TEST(Transforms, RoutesChooseTheSinksAndASinkTransformDecidesForItsSinkAlone) {
  Pipeline pl("transform-route", 2);
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1);
  for (const char* name : {"a", "b", "c"}) pl.startSink(name);
  ConfigOptions o;
  o.extra = "dead_letter:\n  topic: " + dlq + "\n" + "transform:\n  module: " + module("route") +
            "\n  config: {routes: {order: [a, c], refund: [b]}}\n";
  o.sink_extra["c"] = "    ordering: partition\n    transform:\n      module: " +
                      module("faulty") + "\n";
  pl.startSluice(pl.writeConfig(o));

  // By body: which sinks get it, and what c gets (its transform wraps the body).
  std::map<std::string, std::set<std::string>> expected;  // body -> sinks
  std::set<std::string> refused;                          // bodies c's transform fails
  std::map<int, std::vector<RawRecord>> by_partition;
  for (int i = 0; i < 240; ++i) {
    const std::string id = std::to_string(i);
    std::string body;
    switch (i % 6) {
      case 0:
      case 1:
        body = R"({"type":"order","id":)" + id + "}";
        expected[body] = {"a", "c"};
        break;
      case 2:
        body = R"({"type":"refund","id":)" + id + "}";
        expected[body] = {"b"};
        break;
      case 3:
        body = R"({"type":"other","id":)" + id + "}";
        expected[body] = {"a", "b", "c"};
        break;
      case 4:
        body = R"({"type":"order","id":)" + id + R"(,"note":"drop"})";
        expected[body] = {"a"};  // c's transform drops it for c
        break;
      case 5:
        body = R"({"type":"order","id":)" + id + R"(,"note":"refuse"})";
        expected[body] = {"a"};
        refused.insert(body);
        break;
    }
    RawRecord r;
    r.key = "k" + id;
    r.value = body;
    by_partition[i % 2].push_back(std::move(r));
  }
  std::map<std::pair<int, std::int64_t>, std::string> body_at;
  for (auto& [partition, records] : by_partition) {
    const auto offsets = produceRaw(pl.bootstrap(), pl.topic(), partition, records);
    for (std::size_t i = 0; i < records.size(); ++i) {
      body_at[{partition, offsets[i]}] = records[i].value;
    }
  }
  const PartitionOffsets end = pl.end();
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 60s)) << "logs in " << pl.dir();

  for (std::size_t sink = 0; sink < 3; ++sink) {
    const std::string name = pl.sinkName(sink);
    SCOPED_TRACE("sink " + name);
    std::map<std::string, std::string> got;  // original body -> the hash of what came
    for (const auto& r : pl.records(sink).all) {
      got[body_at.at({r.partition, r.offset})] = r.body_hash;
    }
    std::size_t want = 0;
    for (const auto& [body, sinks] : expected) {
      if (!sinks.contains(name)) {
        EXPECT_FALSE(got.contains(body)) << body;
        continue;
      }
      ++want;
      ASSERT_TRUE(got.contains(body)) << body << " never arrived";
      EXPECT_EQ(got.at(body), fnv1aHex(name == "c" ? R"({"wrapped":)" + body + "}" : body));
    }
    EXPECT_EQ(got.size(), want);
  }
  const auto dead = readTopic(pl.bootstrap(), dlq, refused.size(), 30s);
  ASSERT_EQ(dead.size(), refused.size());
  for (const auto& d : dead) {
    EXPECT_TRUE(refused.contains(d.value)) << d.value;
    EXPECT_EQ(d.headers.at("sluice.reason"), "transform_failed");
    EXPECT_EQ(d.headers.at("sluice.sinks"), "c");
    EXPECT_NE(d.headers.at("sluice.error").find("transform of sink c"), std::string::npos);
    EXPECT_NE(d.headers.at("sluice.error").find("refused by faulty"), std::string::npos);
  }
  stopGracefully(pl, 0);
}

// A module that cannot work is refused at start-up as a config error naming the key.
TEST(Transforms, AModuleThatIsNotATransformIsAConfigError) {
  Pipeline pl("transform-bad", 1);
  pl.startSink("a");
  ConfigOptions o;
  // A sluice config file is no WebAssembly module.
  o.extra = "transform:\n  module: " + pl.dir() + "/sluice-bad.yaml\n";
  const std::string config = pl.writeConfig(o);
  {
    std::ofstream(pl.dir() + "/sluice-bad.yaml") << "not wasm\n";
  }
  const auto r = runSluice({"check-config", config}, pl.dir());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("transform.module: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("does not compile"), std::string::npos) << r.output;
}

// Hot reload: the module file is replaced 5 times (alternately faulty.wasm, which wraps the
// body, and identity.wasm) while 50k events flow, then once with a broken file. Every event
// is delivered once, with the body one version made (wrapped or unchanged, nothing else),
// both versions are seen, and the broken file leaves the last good version running.
TEST(Transforms, ModulesReplacedWhileEventsFlowLoseNothingAndRedoNothing) {
  Pipeline pl("transform-reload", 1);
  pl.startSink("a");
  const std::string live = pl.dir() + "/live.wasm";
  auto install = [&](const std::string& from) {
    // As a deployment would: written beside, then renamed over the live file.
    std::filesystem::copy_file(from, live + ".new",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(live + ".new", live);
  };
  install(module("faulty"));
  ConfigOptions o;
  o.extra = "transform:\n  module: " + live + "\n  workers: 2\n";
  pl.startSluice(pl.writeConfig(o));

  std::map<std::int64_t, std::string> body_at;
  std::int64_t next_id = 0;
  for (int round = 0; round < 6; ++round) {
    std::vector<RawRecord> records;
    for (int i = 0; i < 50'000 / 6; ++i, ++next_id) {
      RawRecord r;
      r.key = "k" + std::to_string(next_id);
      r.value = R"({"id":)" + std::to_string(next_id) + "}";
      records.push_back(std::move(r));
    }
    const auto offsets = produceRaw(pl.bootstrap(), pl.topic(), 0, records);
    for (std::size_t i = 0; i < records.size(); ++i) body_at[offsets[i]] = records[i].value;
    if (round < 5) install(module(round % 2 == 0 ? "identity" : "faulty"));
    std::this_thread::sleep_for(700ms);
  }
  {
    std::ofstream(live + ".new") << "not a module";
    std::filesystem::rename(live + ".new", live);
  }
  const auto end = pl.end();
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 90s)) << "logs in " << pl.dir();
  EXPECT_TRUE(waitFor([&] { return pl.sluiceLog(0).find("reload refused") != std::string::npos; },
                      10s))
      << pl.sluiceLog(0);
  const auto records = pl.records(0);
  EXPECT_EQ(records.duplicates(), 0u);
  std::size_t wrapped = 0, plain = 0;
  for (const auto& r : records.all) {
    const std::string& body = body_at.at(r.offset);
    if (r.body_hash == fnv1aHex(R"({"wrapped":)" + body + "}")) {
      ++wrapped;
    } else if (r.body_hash == fnv1aHex(body)) {
      ++plain;
    } else {
      ADD_FAILURE() << "offset " << r.offset << ": a body no version makes";
    }
  }
  EXPECT_EQ(wrapped + plain, body_at.size());
  EXPECT_GT(wrapped, 0u);
  EXPECT_GT(plain, 0u);
  const std::string log = pl.sluiceLog(0);
  std::size_t reloads = 0;
  for (auto at = log.find("new version in force"); at != std::string::npos;
       at = log.find("new version in force", at + 1)) {
    ++reloads;
  }
  EXPECT_GE(reloads, 3u) << log;
  // Still transforming after the broken file: an event now gets the last good version.
  RawRecord last;
  last.key = "last";
  last.value = R"({"id":"last"})";
  const auto at = produceRaw(pl.bootstrap(), pl.topic(), 0, {last});
  ASSERT_TRUE(waitFor([&] { return pl.committed().at(0) == at[0] + 1; }, 30s));
  stopGracefully(pl, 0);
}

}  // namespace
}  // namespace sluice::testing

#endif  // SLUICE_TEST_TRANSFORMS
