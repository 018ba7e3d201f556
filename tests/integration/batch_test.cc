// Batching against the real broker: sinks that take several events per request get every
// event exactly as a sink without batching does (same keys, offsets and bodies per event),
// through failures and retries, and commits still reach the end.
#include <gtest/gtest.h>
#include <signal.h>

#include "http_probe.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST(Batching, BatchedSinksGetEveryEventThroughFailuresAndCommitsReachTheEnd) {
  Pipeline pl("batch", 4);
  const auto a = pl.startSink("a");
  const auto b = pl.startSink("b", {"--fail-share", "0.2", "--retry-after", "0", "--seed", "5"});
  const auto c = pl.startSink("c");  // one event per request, for comparison
  pl.produce(4000);  // a backlog, so batches form from the start
  const int port = freePort();
  ConfigOptions options;
  options.sink_max_in_flight = 8;
  options.sink_extra["a"] = "    batch: {max_events: 50}\n";
  options.sink_extra["b"] = "    batch: {max_events: 20, max_bytes: 2000}\n";
  options.extra = "metrics: {listen: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
  pl.startSluice(pl.writeConfig(options));
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  ASSERT_TRUE(pl.waitForAllSinks(expected, 90s)) << pl.sluiceLog(0);
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s)) << pl.sluiceLog(0);

  // Every event recorded on its own line with its own coordinates and body, as for c.
  const auto rc = pl.records(c);
  std::map<std::string, std::int64_t> c_len;
  for (const auto& r : rc.all) c_len[r.key] = r.body_len;
  for (const auto sink : {a, b}) {
    const auto rs = pl.records(sink);
    EXPECT_EQ(rs.count_by_key.size(), expected.size());
    for (const auto& r : rs.all) {
      ASSERT_EQ(r.key, "\"" + r.topic + "/" + std::to_string(r.partition) + "/" +
                           std::to_string(r.offset) + "\"");
      ASSERT_EQ(r.body_len, c_len.at(r.key)) << r.key;
    }
  }
  // Fewer requests than events on the batched sinks; one per event (and retry) on c.
  const std::string m = request(port, "GET", "/metrics").body;
  const double a_requests = valueOf(m, "sluice_delivery_attempts_total{sink=\"a\"}");
  const double b_requests = valueOf(m, "sluice_delivery_attempts_total{sink=\"b\"}");
  std::cout << "[ figures  ] requests for " << expected.size() << " events: a " << a_requests
            << ", b " << b_requests << " (with 20% failing), c "
            << valueOf(m, "sluice_delivery_attempts_total{sink=\"c\"}") << "\n";
  EXPECT_LT(a_requests, static_cast<double>(expected.size()) / 5);
  EXPECT_LT(b_requests, static_cast<double>(expected.size()));
  EXPECT_GT(valueOf(m, "sluice_delivery_retries_total{sink=\"b\"}"), 0);
  EXPECT_GE(valueOf(m, "sluice_delivery_attempts_total{sink=\"c\"}"),
            static_cast<double>(expected.size()));
  pl.sluice(0).signal(SIGTERM);
  EXPECT_TRUE(pl.sluice(0).wait(30s).has_value());
}

}  // namespace
}  // namespace sluice::testing
