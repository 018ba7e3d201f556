// /metrics, /healthz and /readyz from a running sluice; the exposition passes promtool.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

HttpAnswer request(int port, const std::string& method, const std::string& path) {
  HttpAnswer a;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return a;
  }
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (raw.rfind("HTTP/1.1 ", 0) == 0) a.status = std::stoi(raw.substr(9, 3));
  if (const auto sep = raw.find("\r\n\r\n"); sep != std::string::npos) a.body = raw.substr(sep + 4);
  return a;
}

double valueOf(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

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
