// The curl transport against a small local HTTP/1.1 server on a thread: keep-alive sockets
// stay registered with epoll between requests, and connections the server closes (at once or
// while they idle in curl's cache) neither stall requests nor spin the loop.
#include "http/curl_multi_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "loop/event_loop.h"
#include "util/unique_fd.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

// Answers every POST with 200. kClose closes the connection right after each answer without
// saying so (no "Connection: close"), as a sink's idle timeout or a restart does: curl keeps
// such a connection in its cache as if it were reusable.
class TinyHttpServer {
 public:
  enum class After { kKeepOpen, kClose };

  explicit TinyHttpServer(After after) : after_(after) {
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_.get(), 64) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("test server: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TinyHttpServer() {
    stop_ = true;
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  int accepted() const { return accepted_; }

 private:
  struct Connection {
    UniqueFd fd;
    std::string in;
  };

  // Answers every complete request in c.in; false once the connection is to be dropped.
  bool answer(Connection& c) {
    for (;;) {
      const auto head_end = c.in.find("\r\n\r\n");
      if (head_end == std::string::npos) return true;
      std::size_t length = 0;
      const auto at = c.in.find("\r\nContent-Length:");
      if (at != std::string::npos && at < head_end) length = std::stoul(c.in.substr(at + 17));
      if (c.in.size() < head_end + 4 + length) return true;
      c.in.erase(0, head_end + 4 + length);
      static constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      if (::send(c.fd.get(), kOk.data(), kOk.size(), MSG_NOSIGNAL) < 0) return false;
      if (after_ == After::kClose) return false;
    }
  }

  void serve() {
    std::vector<Connection> connections;
    while (!stop_) {
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      for (const auto& c : connections) fds.push_back({c.fd.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      std::vector<Connection> kept;
      for (std::size_t i = 1; i < fds.size(); ++i) {
        Connection& c = connections[i - 1];
        bool open = true;
        if (fds[i].revents != 0) {
          char buf[4096];
          const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
          open = n > 0 && (c.in.append(buf, static_cast<std::size_t>(n)), answer(c));
        }
        if (open) kept.push_back(std::move(c));
      }
      connections = std::move(kept);
      if (fds[0].revents & POLLIN) {
        connections.push_back({UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)), {}});
        ++accepted_;
      }
    }
  }

  After after_;
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Sends `total` requests one after another: each next one from inside the previous answer, or,
// with a pause, from a timer `pause` later (long enough for a closed connection's FIN to arrive
// while the socket idles).
class SequentialSender : public HttpResponseHandler {
 public:
  SequentialSender(EventLoop& loop, int total, Millis pause) : loop_(loop), total_(total), pause_(pause) {}

  void start(HttpTransport& transport) {
    transport_ = &transport;
    sendNext();
  }
  void onResponse(std::uint64_t, const HttpResponse& response) override {
    statuses.push_back(response.status);
    if (static_cast<int>(statuses.size()) == total_) {
      loop_.stop();
    } else if (pause_ == Millis(0) || statuses.size() % 2 == 0) {
      sendNext();
    } else {
      loop_.runAfter(pause_, [this] { sendNext(); });
    }
  }

  std::vector<long> statuses;

 private:
  void sendNext() {
    HttpRequest r;
    r.body = R"({"n":1})";
    r.idempotency_key = R"("k")";
    r.topic = "t";
    r.offset = static_cast<std::int64_t>(statuses.size());
    transport_->send(statuses.size() + 1, r);
  }

  EventLoop& loop_;
  HttpTransport* transport_ = nullptr;
  int total_;
  Millis pause_;
};

std::vector<SinkConfig> oneSink(const std::string& url) {
  SinkConfig sink;
  sink.name = "a";
  sink.url = url;
  sink.timeout = 3000ms;
  return {sink};
}

void runFor(EventLoop& loop, Millis limit) {
  const auto guard = loop.runAfter(limit, [&loop] { loop.stop(); });
  loop.run();
  loop.cancel(guard);
}

TEST(CurlMultiTransport, KeepAliveSocketStaysRegisteredBetweenRequests) {
  static CurlGlobal curl;
  TinyHttpServer server(TinyHttpServer::After::kKeepOpen);
  EventLoop loop;
  SequentialSender sender(loop, 200, Millis(0));
  CurlMultiTransport transport(loop, oneSink(server.url()), sender);
  sender.start(transport);
  runFor(loop, 10s);

  ASSERT_EQ(sender.statuses.size(), 200u);
  for (long status : sender.statuses) EXPECT_EQ(status, 200);
  EXPECT_EQ(server.accepted(), 1);
  // One registration for the one connection; unregistering and registering it again around
  // every request would be 400.
  EXPECT_LE(loop.epollControls(), 4u);
}

// Collects statuses; stops the loop once `expected` have come back.
class Counter : public HttpResponseHandler {
 public:
  Counter(EventLoop& loop, std::size_t expected) : loop_(loop), expected_(expected) {}
  void onResponse(std::uint64_t, const HttpResponse& response) override {
    statuses.push_back(response.status);
    if (statuses.size() == expected_) loop_.stop();
  }
  void expect(std::size_t expected) { expected_ = expected; }
  std::vector<long> statuses;

 private:
  EventLoop& loop_;
  std::size_t expected_;
};

TEST(CurlMultiTransport, PoolKeepsAboutAsManyHandlesAsAreInUse) {
  static CurlGlobal curl;
  TinyHttpServer server(TinyHttpServer::After::kKeepOpen);
  EventLoop loop;
  Counter counter(loop, 40);
  CurlMultiTransport transport(loop, oneSink(server.url()), counter);
  HttpRequest r;
  r.body = "{}";
  r.idempotency_key = R"("k")";
  r.topic = "t";
  for (std::uint64_t token = 1; token <= 40; ++token) transport.send(token, r);  // a burst
  runFor(loop, 10s);
  ASSERT_EQ(counter.statuses.size(), 40u);
  // 40 handles were in use at once. Once requests go one at a time the pool shrinks to a few:
  // idle, each handle would keep its buffers for good.
  for (std::uint64_t token = 41; token <= 45; ++token) {
    counter.expect(token);
    transport.send(token, r);
    runFor(loop, 5s);
  }
  ASSERT_EQ(counter.statuses.size(), 45u);
  for (long status : counter.statuses) EXPECT_EQ(status, 200);
  EXPECT_LE(transport.pooledHandles(0), 8u);
  EXPECT_GE(transport.pooledHandles(0), 1u);
}

TEST(CurlMultiTransport, ConnectionsTheSinkClosesNeitherStallNorFailRequests) {
  static CurlGlobal curl;
  TinyHttpServer server(TinyHttpServer::After::kClose);
  EventLoop loop;
  // Every other request waits 30 ms: the FIN then reaches the idle socket first; the others
  // go at once, usually before it, so curl finds the connection dead on reuse.
  SequentialSender sender(loop, 60, 30ms);
  CurlMultiTransport transport(loop, oneSink(server.url()), sender);
  sender.start(transport);
  runFor(loop, 20s);

  ASSERT_EQ(sender.statuses.size(), 60u);
  for (long status : sender.statuses) EXPECT_EQ(status, 200);
  EXPECT_EQ(server.accepted(), 60);  // a fresh connection for every request
}

TEST(CurlMultiTransport, IdleSocketTheSinkClosedDoesNotSpinTheLoop) {
  static CurlGlobal curl;
  TinyHttpServer server(TinyHttpServer::After::kClose);
  EventLoop loop;
  SequentialSender sender(loop, 1, Millis(0));
  CurlMultiTransport transport(loop, oneSink(server.url()), sender);
  sender.start(transport);
  runFor(loop, 5s);
  ASSERT_EQ(sender.statuses.size(), 1u);

  const std::uint64_t rounds_before = loop.rounds();
  runFor(loop, 300ms);
  // Left registered after the FIN, the socket would be readable on every epoll_wait:
  // tens of thousands of rounds in 300 ms. Idle, the loop wakes for timers only.
  EXPECT_LT(loop.rounds() - rounds_before, 50u);
}

}  // namespace
}  // namespace sluice
