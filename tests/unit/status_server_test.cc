#include "http/status_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http/status_request.h"
#include "loop/event_loop.h"
#include "util/unique_fd.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Head = StatusRequest::Head;

// ---- parseStatusRequest ---------------------------------------------------------------------

bool inside(std::string_view part, std::string_view whole) {
  const std::less<const char*> before;
  return !before(part.data(), whole.data()) &&
         !before(whole.data() + whole.size(), part.data() + part.size());
}

TEST(StatusRequest, ParsesAProbe) {
  const std::string in =
      "GET /healthz HTTP/1.1\r\nHost: 10.0.0.7:9464\r\nUser-Agent: kube-probe/1.29\r\n"
      "Accept: */*\r\n\r\n";
  const StatusRequest r = parseStatusRequest(in);
  EXPECT_EQ(r.head, Head::kComplete);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/healthz");
  EXPECT_EQ(r.head_size, in.size());
}

TEST(StatusRequest, HeadAndHttp10) {
  const StatusRequest r = parseStatusRequest("HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.head, Head::kComplete);
  EXPECT_EQ(r.method, "HEAD");
  EXPECT_EQ(r.path, "/metrics");
}

TEST(StatusRequest, QueryIsStrippedFromThePath) {
  EXPECT_EQ(parseStatusRequest("GET /metrics?name[]=up HTTP/1.1\r\n\r\n").path, "/metrics");
  EXPECT_EQ(parseStatusRequest("GET /readyz?a?b HTTP/1.1\r\n\r\n").path, "/readyz");
  EXPECT_EQ(parseStatusRequest("GET /? HTTP/1.1\r\n\r\n").path, "/");
  EXPECT_EQ(parseStatusRequest("GET ?x HTTP/1.1\r\n\r\n").path, "");
}

TEST(StatusRequest, BareLfEndsLinesToo) {
  const std::string lf = "GET /healthz HTTP/1.1\nHost: x\n\n";
  EXPECT_EQ(parseStatusRequest(lf).head, Head::kComplete);
  EXPECT_EQ(parseStatusRequest(lf).head_size, lf.size());
  EXPECT_EQ(parseStatusRequest("GET / HTTP/1.1\r\nHost: x\n\r\n").head, Head::kComplete);
}

TEST(StatusRequest, EveryPrefixOfAValidHeadIsIncomplete) {
  for (const std::string& head : {"GET /healthz HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"s,
                                 "HEAD /readyz?x=1 HTTP/1.0\nHost:b\n\n"s}) {
    for (std::size_t n = 0; n < head.size(); ++n) {
      const StatusRequest r = parseStatusRequest(std::string_view(head).substr(0, n));
      EXPECT_EQ(r.head, Head::kIncomplete) << "prefix of " << n << " bytes";
      EXPECT_TRUE(r.method.empty());
      EXPECT_TRUE(r.path.empty());
    }
    EXPECT_EQ(parseStatusRequest(head).head, Head::kComplete);
  }
}

TEST(StatusRequest, WithoutALineEndItWaitsUntilTheLimit) {
  EXPECT_EQ(parseStatusRequest("").head, Head::kIncomplete);
  EXPECT_EQ(parseStatusRequest("GET /healthz HTTP/1.1").head, Head::kIncomplete);
  EXPECT_EQ(parseStatusRequest("GET /healthz HTTP/1.1\r").head, Head::kIncomplete);
  std::string line = "GET /";
  line.resize(kMaxStatusRequestHead - 1, 'a');
  EXPECT_EQ(parseStatusRequest(line).head, Head::kIncomplete);
  line += 'a';
  EXPECT_EQ(parseStatusRequest(line).head, Head::kTooLarge);
  line.resize(1 << 20, 'a');
  EXPECT_EQ(parseStatusRequest(line).head, Head::kTooLarge);
}

TEST(StatusRequest, AHeadOfExactlyTheLimitIsAcceptedOneByteMoreIsNot) {
  const std::string start = "GET /healthz HTTP/1.1\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  std::string head = start + std::string(kMaxStatusRequestHead - start.size() - end.size(), 'a');
  head += end;
  ASSERT_EQ(head.size(), kMaxStatusRequestHead);
  EXPECT_EQ(parseStatusRequest(head).head, Head::kComplete);
  head.insert(start.size(), "a");
  EXPECT_EQ(parseStatusRequest(head).head, Head::kTooLarge);
}

TEST(StatusRequest, EndlessHeaderLinesAreTooLarge) {
  std::string in = "GET /healthz HTTP/1.1\r\n";
  while (in.size() < 4 * kMaxStatusRequestHead) in += "X-Pad: aaaaaaaaaaaaaaaa\r\n";
  EXPECT_EQ(parseStatusRequest(in).head, Head::kTooLarge);
}

TEST(StatusRequest, WhatFollowsTheHeadIsIgnored) {
  const std::string head = "POST /healthz HTTP/1.1\r\nContent-Length: 9\r\n\r\n";
  const std::string in = head + "\0\x01\xff body"s + std::string(1 << 20, 'x');
  const StatusRequest r = parseStatusRequest(in);
  EXPECT_EQ(r.head, Head::kComplete);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.head_size, head.size());
}

TEST(StatusRequest, MalformedRequestLines) {
  for (const std::string& in : {
           "GET/healthz HTTP/1.1\r\n\r\n"s,     // no space after the method
           "GET /healthz\r\n\r\n"s,             // no version
           "GET /healthzHTTP/1.1\r\n\r\n"s,     // no space before it
           "GET  /healthz HTTP/1.1\r\n\r\n"s,   // two spaces
           "GET /healthz  HTTP/1.1\r\n\r\n"s,   //
           "GET /healthz HTTP/1.1 \r\n\r\n"s,   // trailing space
           " GET /healthz HTTP/1.1\r\n\r\n"s,   // leading space
           "\r\nGET /healthz HTTP/1.1\r\n\r\n"s,  // empty line first
           "\r\n\r\n"s,                         //
           "GET /healthz HTTP/2.0\r\n\r\n"s,    // not 1.x
           "GET /healthz http/1.1\r\n\r\n"s,    //
           "GET /healthz HTTP/1.10\r\n\r\n"s,   //
           "GET /healthz HTTP/1.\r\n\r\n"s,     //
           "GET /heal\tthz HTTP/1.1\r\n\r\n"s,  // control character in the target
           "GET /h\xc3\xa9 HTTP/1.1\r\n\r\n"s,  // obs-text in the target
           "G(T / HTTP/1.1\r\n\r\n"s,           // not a token
           "GET /healthz HTTP/1.1\r\r\n\r\n"s,  // bare CR
           "GET /\0 HTTP/1.1\r\n\r\n"s,         // NUL
           "\0GET / HTTP/1.1\r\n\r\n"s,         //
           "GET / HTTP/1.1\0\r\n\r\n"s,         //
       }) {
    const StatusRequest r = parseStatusRequest(in);
    EXPECT_EQ(r.head, Head::kMalformed) << testing::PrintToString(in);
    EXPECT_TRUE(r.method.empty());
    EXPECT_TRUE(r.path.empty());
  }
}

TEST(StatusRequest, MalformedFieldLines) {
  for (const std::string& field : {
           "Host x"s,         // no colon
           "Host : x"s,       // whitespace before the colon (RFC 9112 §5.1)
           " folded"s,        // obs-fold (§5.2)
           ": no name"s,      //
           "X: a\0b"s,        // NUL in a value
           "X: a\rb"s,        // bare CR in a value
           "X: a\x01"s,       // control character
           "X\0: a"s,         //
       }) {
    const std::string in = "GET / HTTP/1.1\r\nHost: a\r\n" + field + "\r\n\r\n";
    EXPECT_EQ(parseStatusRequest(in).head, Head::kMalformed) << testing::PrintToString(field);
  }
  // HTAB and obs-text are allowed in a value.
  EXPECT_EQ(parseStatusRequest("GET / HTTP/1.1\r\nX: a\tb \xff\r\n\r\n"s).head, Head::kComplete);
}

TEST(StatusRequest, GarbageIsRefusedWithoutWaitingForALineEnd) {
  for (const std::string& in : {
           "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"s,  // a TLS ClientHello
           "\0"s,                                            //
           "GET /healthz HTTP/9"s,                           //
           "GET /healthz HTTP/1.1x"s,                        //
           "GET /healthz HTTP/1.1\r\nHost x"s,               // space in a field name
           "GET /healthz HTTP/1.1\r\nX: \0"s,                //
       }) {
    EXPECT_EQ(parseStatusRequest(in).head, Head::kMalformed) << testing::PrintToString(in);
  }
}

// What the server relies on: once the answer is not kIncomplete, more bytes do not change it;
// and for any bytes at all, the views stay inside the input.
TEST(StatusRequest, AnyBytesGiveAFinalAnswerWithViewsInside) {
  std::mt19937 random(9);
  const std::array<std::string, 3> seeds = {
      "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nX-Y: z\t\xff\r\n\r\n"s,
      "HEAD /metrics HTTP/1.0\n\n"s, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"s};
  const std::string alphabet = "GET /?HTP1.\r\n: \t\0\x7f\xff"s;
  const auto byte = [&] {
    return random() % 2 == 0 ? alphabet[random() % alphabet.size()]
                             : static_cast<char>(random() % 256);
  };
  for (int i = 0; i < 20'000; ++i) {
    std::string in = seeds[random() % seeds.size()];
    for (unsigned edits = random() % 4; edits > 0; --edits) {
      const std::size_t at = random() % (in.size() + 1);
      switch (random() % 4) {
        case 0:
          in.insert(at, 1, byte());
          break;
        case 1:
          if (at < in.size()) in[at] = byte();
          break;
        case 2:
          in.erase(at, 1);
          break;
        default:
          in.insert(at, random() % 64 == 0 ? 2 * kMaxStatusRequestHead : random() % 16, byte());
      }
    }
    if (random() % 2 == 0) in.resize(random() % (in.size() + 1));
    const StatusRequest r = parseStatusRequest(in);
    if (r.head == Head::kComplete) {
      EXPECT_FALSE(r.method.empty());
      EXPECT_TRUE(inside(r.method, in));
      EXPECT_TRUE(inside(r.path, in));
      EXPECT_LE(r.head_size, std::min(in.size(), kMaxStatusRequestHead));
    } else {
      EXPECT_TRUE(r.method.empty());
      EXPECT_TRUE(r.path.empty());
    }
    if (r.head == Head::kIncomplete) continue;
    const std::string more = in + "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    const StatusRequest again = parseStatusRequest(more);
    EXPECT_EQ(again.head, r.head) << testing::PrintToString(in);
    EXPECT_EQ(again.method, r.method);
    EXPECT_EQ(again.path, r.path);
    EXPECT_EQ(again.head_size, r.head_size);
  }
}

// ---- StatusServer on a real loop --------------------------------------------------------------

constexpr std::size_t kBigBody = 16 << 20;  // beyond any socket buffer on either side
// Within the server's send buffer (loopback sizes it at over a megabyte from the start), but
// not within a client receive buffer of 4 KiB: all of it is handed over, most of it unsent.
constexpr std::size_t kMediumBody = 256 << 10;
constexpr Millis kTick{10};

// A real EventLoop with a StatusServer and a periodic timer, on a thread of its own. The loop's
// state belongs to the loop thread, so a round hook copies what the tests look at.
class ServerThread {
 public:
  explicit ServerThread(StatusServerLimits limits = {})
      : server_(loop_, "127.0.0.1:0", [](std::string_view path) { return serve(path); },
                limits) {
    loop_.addRoundHook([this] { observe(); });
    tick();
    thread_ = std::thread([this] { loop_.run(); });
  }
  ~ServerThread() {
    stop_ = true;
    thread_.join();
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  int port() const { return server_.port(); }
  StatusServer::Stats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }
  std::size_t peakConnections() const {
    std::lock_guard lock(mu_);
    return peak_connections_;
  }
  std::size_t peakBufferedBytes() const {
    std::lock_guard lock(mu_);
    return peak_buffered_;
  }
  std::uint64_t rounds() const { return rounds_; }
  std::uint64_t ticks() const { return ticks_; }
  // The longest time between two ticks of a 10 ms timer since the last reset.
  SteadyClock::duration longestTickGap() const {
    std::lock_guard lock(mu_);
    return longest_gap_;
  }
  void resetLongestTickGap() {
    std::lock_guard lock(mu_);
    longest_gap_ = {};
  }

 private:
  static StatusServer::Response serve(std::string_view path) {
    StatusServer::Response r;
    if (path == "/healthz") {
      r.body = "ok\n";
    } else if (path == "/big") {
      r.body.assign(kBigBody, 'x');
    } else if (path == "/medium") {
      r.body.assign(kMediumBody, 'x');
    } else {
      r.status = 404;
    }
    return r;
  }
  void tick() {
    const TimePoint now = loop_.now();
    if (ticks_ > 0) {
      std::lock_guard lock(mu_);
      longest_gap_ = std::max(longest_gap_, now - last_tick_);
    }
    last_tick_ = now;
    ++ticks_;
    loop_.runAfter(kTick, [this] { tick(); });
  }
  void observe() {
    {
      std::lock_guard lock(mu_);
      stats_ = server_.stats();
      peak_connections_ = std::max(peak_connections_, stats_.connections);
      peak_buffered_ = std::max(peak_buffered_, stats_.buffered_bytes);
    }
    ++rounds_;
    if (stop_) loop_.stop();
  }

  EventLoop loop_;
  StatusServer server_;
  mutable std::mutex mu_;
  StatusServer::Stats stats_;
  std::size_t peak_connections_ = 0;
  std::size_t peak_buffered_ = 0;
  SteadyClock::duration longest_gap_{};
  TimePoint last_tick_;
  std::atomic<std::uint64_t> ticks_{0};
  std::atomic<std::uint64_t> rounds_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Waits for a condition, up to a deadline; true if it came.
bool eventually(const std::function<bool()>& condition, SteadyClock::duration within = 3s) {
  const TimePoint deadline = SteadyClock::now() + within;
  while (!condition()) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A blocking client socket whose calls give up after 3 s, so no test can hang.
UniqueFd clientSocket(int receive_buffer = 0) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (receive_buffer > 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  const timeval timeout{3, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return fd;
}

bool connectTo(const UniqueFd& fd, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

UniqueFd connected(int port, int receive_buffer = 0) {
  UniqueFd fd = clientSocket(receive_buffer);
  if (!connectTo(fd, port)) fd.reset();
  return fd;
}

bool sendAll(const UniqueFd& fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct Received {
  std::string data;
  bool closed = false;  // by the server (end of stream or reset), not given up on after 3 s
};

Received readAll(const UniqueFd& fd) {
  Received r;
  std::array<char, 65536> buf;
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n > 0) {
      r.data.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      r.closed = true;
      return r;
    } else if (errno == EAGAIN) {
      return r;
    }
  }
}

Received roundTrip(int port, std::string_view request) {
  const UniqueFd fd = connected(port);
  if (!fd || !sendAll(fd, request)) return {};
  return readAll(fd);
}

int statusOf(const Received& r) {
  if (r.data.size() < 12 || r.data.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(r.data.substr(9, 3));
}

// Slowloris clients, on a thread: each sends its request head one byte at a time and, once
// evicted, comes back on a new connection.
class Drippers {
 public:
  Drippers(int port, std::size_t count) : thread_([this, port, count] { run(port, count); }) {}
  ~Drippers() {
    stop_ = true;
    thread_.join();
  }
  Drippers(const Drippers&) = delete;
  Drippers& operator=(const Drippers&) = delete;

  std::uint64_t drips() const { return drips_; }  // rounds of one byte on every connection

 private:
  void run(int port, std::size_t count) {
    const std::string head = "GET /healthz HTTP/1.1\r\nHost: sluice\r\nX-Drip: ";
    std::vector<UniqueFd> fds(count);
    std::vector<std::size_t> sent(count);
    while (!stop_) {
      for (std::size_t i = 0; i < count; ++i) {
        if (!fds[i]) {
          fds[i] = connected(port);
          sent[i] = 0;
        }
        const char ch = sent[i] < head.size() ? head[sent[i]] : 'a';
        if (::send(fds[i].get(), &ch, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
          ++sent[i];
        } else {
          fds[i].reset();
        }
      }
      ++drips_;
      std::this_thread::sleep_for(5ms);  // the drip's pace
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> drips_{0};
  std::thread thread_;
};

// (a) 300 stalled connections and slowloris drippers: probes are still answered at once, and
// the server never holds more connections than its cap. Eviction takes the oldest stalled
// connection, so neither a scraper still reading its answer nor a probe that connected just
// before a burst loses its place.
TEST(StatusServer, StalledClientsCannotLockOutProbes) {
  ServerThread server;
  const StatusServerLimits limits;
  std::vector<UniqueFd> stalled;
  const auto stall = [&](int n) {
    for (int i = 0; i < n; ++i) {
      stalled.push_back(connected(server.port()));
      sendAll(stalled.back(), "GET /healthz HTT");  // and nothing more
    }
  };
  // Scrapers that read their answers only at the end: one whose answer is partly written, one
  // whose answer is written (the server waits for it to close) but still in the kernel.
  const UniqueFd handed_over = connected(server.port(), 4096);
  ASSERT_TRUE(sendAll(handed_over, "GET /medium HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] {
    const auto s = server.stats();
    return s.connections == 1 && s.buffered_bytes == 0;
  }));
  const UniqueFd writing = connected(server.port(), 4096);
  ASSERT_TRUE(sendAll(writing, "GET /big HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return server.stats().buffered_bytes > kBigBody / 2; }));
  stall(300);

  // Connected, then ten more connections are accepted (each evicting one), then it sends.
  const UniqueFd early = connected(server.port());
  stall(10);
  const std::size_t made = 2 + 300 + 1 + 10;
  ASSERT_TRUE(eventually([&] { return server.stats().evicted == made - limits.max_connections; }));
  ASSERT_TRUE(sendAll(early, "GET /healthz HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(statusOf(readAll(early)), 200);

  Drippers drippers(server.port(), 16);
  for (int probe = 0; probe < 5; ++probe) {
    const std::uint64_t drips = drippers.drips();
    ASSERT_TRUE(eventually([&] { return drippers.drips() >= drips + 3; }));
    stall(50);
    const TimePoint start = SteadyClock::now();
    const Received r = roundTrip(server.port(), "GET /healthz HTTP/1.1\r\nHost: sluice\r\n\r\n");
    const auto took = SteadyClock::now() - start;
    EXPECT_EQ(statusOf(r), 200) << "probe " << probe;
    EXPECT_TRUE(r.closed);
    EXPECT_LT(took, 1s) << "probe " << probe;
  }

  for (const auto& [scraper, size] : {std::pair(&handed_over, kMediumBody),
                                      std::pair(&writing, kBigBody)}) {
    const Received scraped = readAll(*scraper);
    EXPECT_EQ(statusOf(scraped), 200);
    EXPECT_TRUE(scraped.closed);
    EXPECT_GT(scraped.data.size(), size) << "cut off after " << scraped.data.size();
  }
  // At the cap, and never above it.
  EXPECT_EQ(server.peakConnections(), limits.max_connections);
  EXPECT_GE(server.stats().evicted, 561 - limits.max_connections);
}

// (b) A head that never ends, in header lines or in the request line: 431, the connection
// closes, and the server never holds more than the head limit for it.
TEST(StatusServer, EndlessHeadsGet431WithBoundedMemory) {
  ServerThread server;
  const std::size_t give_up = 256 << 20;
  for (const std::string& start : {"GET /healthz HTTP/1.1\r\n"s, "GET /"s}) {
    std::string chunk;
    while (chunk.size() < 16 * 1024) {
      chunk += start == "GET /" ? "aaaaaaaaaaaaaaaa"s : "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n"s;
    }
    const UniqueFd fd = connected(server.port());
    ASSERT_TRUE(fd);
    ASSERT_TRUE(sendAll(fd, start));
    std::size_t sent = 0;
    while (sent < give_up && sendAll(fd, chunk)) sent += chunk.size();
    EXPECT_LT(sent, give_up) << "the server kept taking an endless head";
    const Received r = readAll(fd);
    EXPECT_EQ(statusOf(r), 431) << testing::PrintToString(start);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(eventually([&] { return server.stats().connections == 0; }));
  }
  EXPECT_LE(server.stats().largest_request, kMaxStatusRequestHead);
  EXPECT_LE(server.peakBufferedBytes(), kMaxStatusRequestHead + 1024);
  EXPECT_LE(server.peakConnections(), 1u);
}

// (c) Only GET and HEAD, and only well-formed requests, reach the handler; the rest are
// answered at once (not at the deadline) and closed.
TEST(StatusServer, OtherMethodsGet405AndGarbage400) {
  ServerThread server;
  struct Case {
    std::string request;
    int status;
  };
  const Case cases[] = {
      {"POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 405},
      {"PUT /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405},
      {"DELETE /readyz HTTP/1.1\r\n\r\n", 405},
      {"OPTIONS * HTTP/1.1\r\n\r\n", 405},
      {"get /healthz HTTP/1.1\r\n\r\n", 405},  // methods are case-sensitive
      {"GET /healthz\r\n\r\n", 400},
      {"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"GET /health\0z HTTP/1.1\r\n\r\n"s, 400},
      {"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"s, 400},  // TLS: no line end ever comes
      {"GET /healthz?from=probe HTTP/1.0\r\n\r\n", 200},
      {"GET /nowhere HTTP/1.1\r\n\r\n", 404},
  };
  for (const Case& c : cases) {
    const TimePoint start = SteadyClock::now();
    const Received r = roundTrip(server.port(), c.request);
    EXPECT_EQ(statusOf(r), c.status) << testing::PrintToString(c.request);
    EXPECT_TRUE(r.closed);
    EXPECT_LT(SteadyClock::now() - start, 1s) << testing::PrintToString(c.request);
    const bool allow = r.data.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos;
    EXPECT_EQ(allow, c.status == 405) << r.data;
  }
  // GET: Content-Length is the body's (it once read 0: the body was moved out first).
  const Received get = roundTrip(server.port(), "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(statusOf(get), 200);
  EXPECT_NE(get.data.find("\r\nContent-Length: 3\r\n"), std::string::npos) << get.data;
  EXPECT_TRUE(get.data.ends_with("\r\n\r\nok\n")) << get.data;
  // HEAD: the GET answer's headers, Content-Length included, and no body.
  const Received head = roundTrip(server.port(), "HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(statusOf(head), 200);
  EXPECT_NE(head.data.find("\r\nContent-Length: 3\r\n"), std::string::npos);
  EXPECT_TRUE(head.data.ends_with("\r\n\r\n")) << head.data;
}

// (d) The deadline covers the whole connection: a client that stops sending mid-request, and
// one that never reads its (large) answer, are both cut off by it.
TEST(StatusServer, SlowSendersAndReadersAreCutOffAtTheDeadline) {
  StatusServerLimits limits;
  limits.deadline = 500ms;
  ServerThread server(limits);
  const TimePoint start = SteadyClock::now();
  const UniqueFd sender = connected(server.port());
  ASSERT_TRUE(sendAll(sender, "GET /healthz HTTP/1.1\r\nHost: slow"));
  const UniqueFd reader = connected(server.port(), 4096);
  ASSERT_TRUE(sendAll(reader, "GET /big HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return server.stats().connections == 2; }));

  EXPECT_TRUE(eventually([&] { return server.stats().connections == 0; }));
  EXPECT_GE(SteadyClock::now() - start, limits.deadline);
  EXPECT_EQ(server.stats().timed_out, 2u);
  const Received nothing = readAll(sender);
  EXPECT_TRUE(nothing.closed);
  EXPECT_TRUE(nothing.data.empty());
  const Received part = readAll(reader);
  EXPECT_TRUE(part.closed);
  EXPECT_EQ(statusOf(part), 200);
  EXPECT_LT(part.data.size(), kBigBody);
}

// (e) Whatever clients do, the loop keeps turning: its timers fire on time throughout.
TEST(StatusServer, LoopKeepsRunningTimersUnderAbuse) {
  StatusServerLimits limits;
  limits.deadline = 2s;
  ServerThread server(limits);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 4; ++i) {  // slow readers
    clients.push_back(connected(server.port(), 4096));
    sendAll(clients.back(), "GET /big HTTP/1.1\r\n\r\n");
  }
  // Their answers are made (the handler's work, not what is measured) and mostly unsent.
  ASSERT_TRUE(eventually([&] { return server.stats().buffered_bytes > 4 * (kBigBody / 2); }));
  server.resetLongestTickGap();
  for (int i = 0; i < 100; ++i) {  // stalled senders
    clients.push_back(connected(server.port()));
    sendAll(clients.back(), "GET /");
  }
  Drippers drippers(server.port(), 8);
  const std::uint64_t ticks = server.ticks();
  const UniqueFd endless = connected(server.port());
  const std::string pad = "X-Pad: " + std::string(4096, 'a') + "\r\n";
  for (bool ok = sendAll(endless, "GET / HTTP/1.1\r\n"); ok;) ok = sendAll(endless, pad);
  EXPECT_TRUE(eventually([&] { return server.ticks() >= ticks + 100; }));  // about 1 s
  EXPECT_EQ(statusOf(roundTrip(server.port(), "GET /healthz HTTP/1.1\r\n\r\n")), 200);
  EXPECT_LT(server.longestTickGap(), 250ms);
}

// Lowers the soft descriptor limit so that every descriptor number it allows is taken: the
// server's next accept4 fails with EMFILE. It is process-wide, so the test opens nothing
// while it holds.
class NoFreeDescriptors {
 public:
  NoFreeDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = ::dup(STDERR_FILENO);
    ::close(lowest_free);
    rlimit none = saved_;
    none.rlim_cur = static_cast<rlim_t>(lowest_free);
    ok_ = lowest_free >= 0 && ::setrlimit(RLIMIT_NOFILE, &none) == 0;
  }
  ~NoFreeDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  NoFreeDescriptors(const NoFreeDescriptors&) = delete;
  NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

// Out of descriptors, a waiting connection keeps the listener readable: the server rests
// instead of spinning, keeps retrying, and serves the connection once descriptors are back.
TEST(StatusServer, OutOfDescriptorsPausesAcceptingInsteadOfSpinning) {
  ServerThread server;
  const UniqueFd client = clientSocket();
  {
    NoFreeDescriptors none;
    ASSERT_TRUE(none.ok());
    ASSERT_TRUE(connectTo(client, server.port()));
    const std::uint64_t rounds = server.rounds();
    const std::uint64_t ticks = server.ticks();
    ASSERT_TRUE(eventually([&] { return server.ticks() >= ticks + 50; }));  // about 0.5 s
    // A round per tick and one per retry; spinning would be hundreds of thousands.
    EXPECT_LT(server.rounds() - rounds, 200u);
    EXPECT_GE(server.stats().accept_pauses, 3u);
    EXPECT_EQ(server.stats().connections, 0u);
  }
  ASSERT_TRUE(sendAll(client, "GET /healthz HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(statusOf(readAll(client)), 200);
}

}  // namespace
}  // namespace sluice
