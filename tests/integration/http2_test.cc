// HTTP/2 in the clear (h2c, prior knowledge) to http:// sinks: needs libcurl 8 (scripts/setup
// takes it from bookworm-backports); with 7.x sluice refuses the config instead.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <iostream>
#include <regex>

#include "members.h"
#include "pipeline.h"
#include "sluice_log.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

std::size_t countMatches(const std::string& text, const std::regex& re) {
  return static_cast<std::size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

// Sinks a (one event per request) and b (batches) speak h2c, c HTTP/1.1: every event reaches
// every sink, a and b over a few multiplexed connections, and the commits reach the end.
TEST(Http2, H2cSinksGetEveryEventOverFewMultiplexedConnections) {
  Pipeline pl("h2c", 6);
  for (const char* name : {"a", "b", "c"}) pl.startSink(name);
  ConfigOptions options;
  options.sink_extra["a"] = "    http2: true\n";
  options.sink_extra["b"] = "    http2: true\n    batch: {max_events: 20}\n";
  const std::string config = pl.writeConfig(options);

  const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
  if (curl->version_num < 0x080000) {
    // Debian 12's libcurl 7.88.1 breaks reused h2c connections: refused at start-up.
    const auto r = runSluice({"check-config", config}, pl.dir());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("sinks[0].http2"), std::string::npos) << r.output;
    std::cout << "[ figures  ] libcurl " << curl->version << ": http2 on http:// refused\n";
    return;
  }

  constexpr std::int64_t kEvents = 20'000;
  pl.startSluice(config);
  pl.produce(kEvents);
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  for (std::size_t s = 0; s < 3; ++s) {
    EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(s, expected); }, 120s))
        << "sink " << s << " misses " << pl.missingFrom(s, expected) << " events";
  }
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s));
  stopGracefully(pl, 0);

  const std::regex h2c("h2c connection [0-9]+");
  for (std::size_t s = 0; s < 3; ++s) {
    const std::string log = readFile(pl.dir() + "/sink-" + std::string(1, "abc"[s]) + ".log");
    const std::size_t connections = countMatches(log, h2c);
    std::cout << "[ figures  ] libcurl " << curl->version << ", sink " << "abc"[s] << ": "
              << pl.records(s).all.size() << " records, " << connections << " h2c connections\n";
    if (s == 2) {
      EXPECT_EQ(connections, 0u) << "sink c is HTTP/1.1";
    } else {
      EXPECT_GE(connections, 1u) << "sink " << "abc"[s] << " never saw h2c";
      // Streams share connections: a handful, where HTTP/1.1 opens one per request in flight.
      EXPECT_LE(connections, 4u);
    }
  }
}

}  // namespace
}  // namespace sluice::testing
