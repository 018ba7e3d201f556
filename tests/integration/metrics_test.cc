// /metrics, /healthz and /readyz from a running sluice; the exposition passes promtool.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <sys/wait.h>

#include "http_probe.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST(Metrics, ScrapeHealthAndReadinessFromTheLoop) {
  Pipeline pl("metrics", 3);
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1);
  pl.startSink("a", {"--status", "422", "--status-share", "0.1", "--seed", "3"});
  pl.startSink("b", {"--fail-share", "0.2", "--retry-after", "0", "--seed", "4"});
  const int port = freePort();
  ConfigOptions options;
  options.extra = "dead_letter: {topic: " + dlq + "}\nmetrics: {listen: \"127.0.0.1:" +
                  std::to_string(port) + "\"}\n";
  pl.startSluice(pl.writeConfig(options));
  ASSERT_TRUE(waitFor([&] { return request(port, "GET", "/healthz").status == 200; }, 20s));
  EXPECT_TRUE(waitFor([&] { return request(port, "GET", "/readyz").status == 200; }, 30s));
  pl.produce(500);
  const auto end = pl.end();
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 60s)) << pl.sluiceLog(0);

  const HttpAnswer m = request(port, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  const std::string& x = m.body;
  EXPECT_EQ(valueOf(x, "sluice_events_consumed_total{topic=\"" + pl.topic() + "\"}"), 500);
  EXPECT_EQ(valueOf(x, "sluice_deliveries_total{outcome=\"accepted\",sink=\"b\"}"), 500);
  const double a_ok = valueOf(x, "sluice_deliveries_total{outcome=\"accepted\",sink=\"a\"}");
  const double a_dead = valueOf(x, "sluice_deliveries_total{outcome=\"dead_lettered\",sink=\"a\"}");
  EXPECT_EQ(a_ok + a_dead, 500);
  EXPECT_GT(a_dead, 0);
  EXPECT_EQ(valueOf(x, "sluice_dead_letters_total{reason=\"permanent_status\"}"), a_dead);
  EXPECT_GT(valueOf(x, "sluice_delivery_retries_total{sink=\"b\"}"), 0);
  EXPECT_GE(valueOf(x, "sluice_delivery_attempts_total{sink=\"b\"}"), 500);
  EXPECT_EQ(valueOf(x, "sluice_in_flight_events"), 0);
  EXPECT_EQ(valueOf(x, "sluice_sink_backlog_bytes{sink=\"b\"}"), 0);
  EXPECT_EQ(valueOf(x, "sluice_sink_oldest_undelivered_age_seconds{sink=\"a\"}"), 0);
  EXPECT_GT(valueOf(x, "sluice_delivery_duration_seconds_count{sink=\"a\"}"), 0);
  EXPECT_EQ(valueOf(x, "sluice_end_to_end_latency_seconds_count"), 500);
  EXPECT_EQ(valueOf(x, "sluice_build_info{version=\"" SLUICE_VERSION "\"}"), 1);
  EXPECT_NE(x.find("sluice_committable_offset{partition=\"0\",topic=\"" + pl.topic() + "\"}"),
            std::string::npos);

  // promtool (Debian's prometheus package) checks names, types, help and units.
  const std::string file = pl.dir() + "/metrics.txt";
  std::ofstream(file) << x;
  const int rc = std::system(("promtool check metrics < " + file + " > " + pl.dir() +
                              "/promtool.txt 2>&1").c_str());
  EXPECT_EQ(rc, 0) << readFile(pl.dir() + "/promtool.txt");

  // Lag comes from librdkafka statistics every 5 s: once everything is stored it reads 0.
  const std::string lag = "sluice_consumer_lag_messages{partition=\"1\",topic=\"" + pl.topic() + "\"}";
  EXPECT_TRUE(waitFor([&] { return valueOf(request(port, "GET", "/metrics").body, lag) == 0; },
                      20s, 500ms));
  // The broker's view of the commit, from the same statistics: the end of the partition.
  const std::string committed =
      "sluice_committed_offset{partition=\"1\",topic=\"" + pl.topic() + "\"}";
  EXPECT_TRUE(waitFor([&] {
    return valueOf(request(port, "GET", "/metrics").body, committed) ==
           static_cast<double>(end.at(1));
  }, 20s, 500ms)) << request(port, "GET", "/metrics").body;

  EXPECT_EQ(request(port, "GET", "/nope").status, 404);
  EXPECT_EQ(request(port, "POST", "/metrics").status, 405);
  pl.sluice(0).signal(SIGTERM);
  EXPECT_TRUE(pl.sluice(0).wait(30s).has_value());
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

TEST(Metrics, HeldEventsShowWhyACommitStands) {
  Pipeline pl("metrics-held", 1);
  const auto a = pl.startSink("a");
  const int port = freePort();
  ConfigOptions options;  // no dead_letter: an invalid event has nowhere to go
  options.extra = "metrics: {listen: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
  pl.startSluice(pl.writeConfig(options));
  const auto offsets = produceRaw(pl.bootstrap(), pl.topic(), 0,
                                  {{"ok", R"({"seq":1})", {}}, {"bad", "{\"seq\":", {}},
                                   {"ok2", R"({"seq":2})", {}}});
  ASSERT_TRUE(waitFor([&] { return pl.recordCount(a) >= 2; }, 30s)) << pl.sluiceLog(0);
  const std::string committable =
      "sluice_committable_offset{partition=\"0\",topic=\"" + pl.topic() + "\"}";
  EXPECT_TRUE(waitFor([&] {
    const std::string x = request(port, "GET", "/metrics").body;
    return valueOf(x, "sluice_held_events") == 1 &&
           valueOf(x, committable) == static_cast<double>(offsets[1]);
  }, 20s, 200ms)) << request(port, "GET", "/metrics").body;
  pl.sluice(0).signal(SIGTERM);
  EXPECT_TRUE(pl.sluice(0).wait(30s).has_value());
}

// A dead letter the topic can never take (the topic's size limit is below any record):
// before, it was retried every second forever, the shutdown drain waited out its whole grace
// for it, and /readyz said ready. Now it is held, said once, and readiness says why.
TEST(Metrics, UnwritableDeadLetterIsHeldAndReadinessSaysWhy) {
  Pipeline pl("metrics-dlq-unwritable", 1);
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1, false, {{"max.message.bytes", "64"}});
  const auto a = pl.startSink("a");
  const int port = freePort();
  ConfigOptions options;
  options.extra = "dead_letter: {topic: " + dlq + "}\nshutdown_grace_ms: 20000\n"
                  "metrics: {listen: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
  pl.startSluice(pl.writeConfig(options));
  produceRaw(pl.bootstrap(), pl.topic(), 0,
             {{"ok", R"({"seq":1})", {}}, {"bad", "{\"seq\":", {}},
              {"ok2", R"({"seq":2})", {}}});
  ASSERT_TRUE(waitFor([&] { return pl.recordCount(a) >= 2; }, 30s)) << pl.sluiceLog(0);
  HttpAnswer ready;
  EXPECT_TRUE(waitFor([&] {
    ready = request(port, "GET", "/readyz");
    return ready.status == 503;
  }, 20s, 200ms)) << ready.body;
  EXPECT_NE(ready.body.find("refuses 1 event"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("MSG_SIZE_TOO_LARGE"), std::string::npos) << ready.body;
  EXPECT_EQ(valueOf(request(port, "GET", "/metrics").body, "sluice_held_events"), 1);
  std::this_thread::sleep_for(3s);  // long enough for several one-second retries of old
  const std::string log = pl.sluiceLog(0);
  std::size_t said = 0;
  for (auto at = log.find("refuses"); at != std::string::npos; at = log.find("refuses", at + 1)) {
    ++said;
  }
  EXPECT_EQ(said, 1u) << log;
  // The drain does not wait for an event that cannot finish: well inside the 20 s grace.
  const auto stop_at = std::chrono::steady_clock::now();
  pl.sluice(0).signal(SIGTERM);
  const auto status = pl.sluice(0).wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << pl.sluiceLog(0);
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at, 10s) << pl.sluiceLog(0);
  // Nothing lost: the commit stopped at the held event.
  EXPECT_EQ(pl.committed().at(0), 1);
}

}  // namespace
}  // namespace sluice::testing
