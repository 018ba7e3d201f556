// recording_sink: an HTTP sink for sluice's integration tests, demo and
// benchmarks. It appends one line per accepted (2xx) request to a record
// file and can inject faults (latency, delays, failures, hangs, refused
// connections) without ever blocking its event loop. With --tls-cert and
// --tls-key it serves HTTPS only; --tls-client-ca makes it require a client
// certificate (mutual TLS) and log each refused handshake. A plain connection that opens
// with the HTTP/2 preface is served as h2c (prior knowledge), each stream a request
// recorded the same way; h2c replies are immediate (no --latency-ms or --delay-*).
//
// Record line (tab separated, one per accepted request):
//   idempotency_key topic partition offset attempt body_fnv1a64_hex body_len
//   arrival_unix_micros status
// Header values are verbatim (Idempotency-Key keeps its sf-string quotes)
// except that tabs and newlines become spaces; absent headers are "-".
// A batch (a JSON array body with Sluice-Idempotency-Keys and
// Sluice-Source-Offsets lists) is recorded as one line per element, each with
// its own key, offset, hash and length; a batch whose parts do not match gets
// 400.
// arrival is when the whole request had been read; the line is written when
// the answer is queued, so a client that gives up on a delayed answer is not
// recorded.
//
// Each POST draws its fate once: hang, else fail, else --status, else 200
// (shares taken in that order from one uniform draw), then independently
// whether it gets the extra --delay-ms.

#include <CLI/CLI.hpp>
#include <http_parser.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "batch_body.h"
#include "h2c_session.h"
#include "tls_server.h"
#include "util/unique_fd.h"

namespace sluice::tools {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kFlushIntervalNs = 50 * kNsPerMs;
constexpr int64_t kDrainTimeoutNs = 2'000 * kNsPerMs;
constexpr int64_t kRelistenRetryNs = 100 * kNsPerMs;
constexpr size_t kFlushAtBytes = 256 * 1024;
// Past this much unsent output we stop reading, so a client that pipelines
// without reading answers cannot grow our memory without bound.
constexpr size_t kMaxPendingOut = 1 << 20;
constexpr size_t kMaxHeaderValue = 4096;
constexpr size_t kReadBufferBytes = 64 * 1024;

__attribute__((format(printf, 1, 2))) void log(const char* fmt, ...) {
  char line[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  std::fprintf(stderr, "recording_sink: %s\n", line);
}

int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
int64_t unix_micros() { return clock_ns(CLOCK_REALTIME) / 1000; }

using sluice::UniqueFd;

struct Options {
  uint16_t port = 0;
  std::string bind = "127.0.0.1";
  std::string port_file;
  std::string out;
  int latency_ms = 0;
  double delay_share = 0;
  int delay_ms = 0;
  double fail_share = 0;
  int fail_status = 503;
  int retry_after = -1;  // -1: no Retry-After header
  double hang_share = 0;
  int status = 0;
  double status_share = 0;
  int refuse_after_ms = 0;
  int refuse_for_ms = 0;
  uint64_t seed = 0;
  uint64_t max_requests = 0;  // 0: unlimited
  uint64_t max_body = 1 << 20;
  int threads = 1;
  std::string tls_cert;       // set: HTTPS only
  std::string tls_key;
  std::string tls_client_ca;  // set: a client certificate signed by it is required
};

struct Stats {
  uint64_t requests = 0, accepted = 0, failed = 0, hung = 0, delayed = 0, tls_failed = 0;
  Stats& operator+=(const Stats& o) {
    requests += o.requests;
    tls_failed += o.tls_failed;
    accepted += o.accepted;
    failed += o.failed;
    hung += o.hung;
    delayed += o.delayed;
    return *this;
  }
};

// State every loop reads; written once before the threads start, except the
// atomics.
struct Shared {
  const Options& opt;
  int out_fd;
  uint16_t port;
  int64_t start_ns;
  const TlsServerContext* tls = nullptr;  // set: HTTPS
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> accepted_total{0};
};

// Buffers record lines and writes them in one O_APPEND write, so lines from
// several loops sharing the file never interleave mid-line.
class RecordWriter {
 public:
  explicit RecordWriter(int fd) : fd_(fd) { buf_.reserve(kFlushAtBytes + 4096); }
  std::string& buffer() { return buf_; }
  void flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        log("writing the record file failed: %s; %zu bytes lost", std::strerror(errno),
            buf_.size() - done);
        break;
      }
      done += static_cast<size_t>(n);
    }
    buf_.clear();
  }

 private:
  int fd_;
  std::string buf_;
};

enum Slot : int {
  kKey, kTopic, kPartition, kOffset, kAttempt, kExpect, kBatchKeys, kBatchOffsets, kSlotCount
};
constexpr std::array<std::string_view, kSlotCount> kSlotNames = {
    "idempotency-key", "sluice-source-topic", "sluice-source-partition",
    "sluice-source-offset", "sluice-attempt", "expect", "sluice-idempotency-keys",
    "sluice-source-offsets"};
// A batch's lists hold a key and an offset per event.
constexpr size_t kMaxListValue = 4 << 20;

int find_slot(std::string_view name) {
  for (int i = 0; i < kSlotCount; ++i) {
    const auto& want = kSlotNames[static_cast<size_t>(i)];
    if (name.size() == want.size() && strncasecmp(name.data(), want.data(), want.size()) == 0)
      return i;
  }
  return -1;
}

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

struct Request {
  std::string url;
  std::string field;  // header names may arrive split over several reads
  std::array<std::string, kSlotCount> value;
  std::array<bool, kSlotCount> seen{};
  int slot = -1;
  bool in_value = false;
  uint64_t body_hash = kFnvOffset;
  uint64_t body_len = 0;
  bool too_large = false;
  int64_t arrival_us = 0;
  // A batch (Sluice-Idempotency-Keys present): its body is kept to be split into events,
  // each recorded on its own line with its own key and offset.
  std::string body;
  std::vector<std::string_view> batch_events, batch_keys, batch_offsets;

  void reset() {
    url.clear();
    field.clear();
    for (auto& v : value) v.clear();
    seen.fill(false);
    slot = -1;
    in_value = false;
    body_hash = kFnvOffset;
    body_len = 0;
    too_large = false;
    body.clear();
    batch_events.clear();
    batch_keys.clear();
    batch_offsets.clear();
  }
  bool is_batch() const { return seen[kBatchKeys]; }
  // Appends to the current header's value (if sluice's), up to its slot's cap.
  void append_value(std::string_view part) {
    if (slot < 0) return;
    auto& v = value[static_cast<size_t>(slot)];
    const size_t cap =
        slot == kBatchKeys || slot == kBatchOffsets ? kMaxListValue : kMaxHeaderValue;
    v.append(part.substr(0, cap - std::min(v.size(), cap)));
  }
  // False once the body is over `max_body` (the rest is not looked at).
  bool add_body(const char* at, size_t len, uint64_t max_body) {
    body_len += len;
    if (body_len > max_body) {
      too_large = true;
      return false;
    }
    uint64_t h = body_hash;
    for (size_t i = 0; i < len; ++i) h = (h ^ static_cast<unsigned char>(at[i])) * kFnvPrime;
    body_hash = h;
    if (is_batch()) body.append(at, len);
    return true;
  }
  void begin_value() {
    in_value = true;
    slot = find_slot(field);
    if (slot < 0) return;
    auto& v = value[static_cast<size_t>(slot)];
    // Repeated headers are joined as RFC 9110 allows, which also makes a
    // client that sends a key twice visible in the record.
    if (seen[static_cast<size_t>(slot)]) v += ',';
    seen[static_cast<size_t>(slot)] = true;
  }
  void end_value() {
    if (slot >= 0) {
      auto& v = value[static_cast<size_t>(slot)];
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    }
    in_value = false;
    field.clear();
  }
};

struct Reply {
  int status = 200;
  bool record = false;
  bool close = false;
  int retry_after = -1;
};

enum class ConnState {
  kReading,   // parsing requests
  kWaiting,   // a reply waits on a timer; later pipelined requests wait too
  kHung,      // never answered; input discarded until the client leaves
  kClosing,   // last reply queued; close once it is sent
  kDraining,  // reply sent and write side shut; wait for the client's FIN so
              // unread input does not turn our close into a reset
};

// One h2c connection (HTTP/2 with prior knowledge): its nghttp2 session and its streams, each
// a request. Replies are immediate: --latency-ms and --delay-* are not applied to h2c.
struct H2Streams final : H2cSession::Handler {
  struct Stream {
    Request req;
    std::string method;
  };
  explicit H2Streams(uint64_t body_limit) : max_body(body_limit) {}

  void onStreamBegin(int32_t id) override { streams[id].req.reset(); }
  void onStreamHeader(int32_t id, std::string_view name, std::string_view value) override {
    auto it = streams.find(id);
    if (it == streams.end()) return;
    Stream& s = it->second;
    if (name == ":method") {
      s.method = value;
    } else if (name == ":path") {
      s.req.url = value.substr(0, kMaxHeaderValue);
    } else if (!name.empty() && name[0] != ':') {
      Request& r = s.req;
      r.field = name.substr(0, kMaxHeaderValue);
      r.begin_value();
      r.append_value(value);
      r.end_value();
    }
  }
  void onStreamData(int32_t id, const char* data, size_t len) override {
    auto it = streams.find(id);
    if (it != streams.end() && !it->second.req.too_large) {
      it->second.req.add_body(data, len, max_body);
    }
  }
  void onStreamRequest(int32_t id) override {
    if (auto it = streams.find(id); it != streams.end()) on_request(id, it->second);
  }
  void onStreamClose(int32_t id) override { streams.erase(id); }

  uint64_t max_body;
  std::unordered_map<int32_t, Stream> streams;
  std::function<void(int32_t, Stream&)> on_request;
  H2cSession session{*this};  // last: its callbacks use the members above
};

struct Conn {
  uint64_t id = 0;
  UniqueFd fd;
  http_parser parser{};
  uint64_t max_body = 0;
  Request req;
  ConnState state = ConnState::kReading;
  Reply pending;
  std::string unparsed;  // input held back while kWaiting
  std::string out;
  uint32_t events = 0;
  bool dead = false;
  std::unique_ptr<TlsSession> tls;  // HTTPS: every byte goes through it
  // OpenSSL may need the opposite direction: a handshake or a read waiting for a writable
  // socket, a write waiting for a readable one. Each is retried on the event it waits for.
  bool tls_wants_write = false;  // handshake or read
  bool tls_write_wants_read = false;
  bool sniffed = false;               // the first bytes were looked at for the h2c preface
  std::unique_ptr<H2Streams> h2;      // set: the connection speaks h2c
};

Conn& conn_of(http_parser* p) { return *static_cast<Conn*>(p->data); }

int on_message_begin(http_parser* p) {
  conn_of(p).req.reset();
  return 0;
}
int on_url(http_parser* p, const char* at, size_t len) {
  auto& url = conn_of(p).req.url;
  url.append(at, std::min(len, kMaxHeaderValue - std::min(url.size(), kMaxHeaderValue)));
  return 0;
}
int on_header_field(http_parser* p, const char* at, size_t len) {
  auto& r = conn_of(p).req;
  if (r.in_value) r.end_value();
  r.field.append(at, std::min(len, kMaxHeaderValue - std::min(r.field.size(), kMaxHeaderValue)));
  return 0;
}
int on_header_value(http_parser* p, const char* at, size_t len) {
  auto& r = conn_of(p).req;
  if (!r.in_value) r.begin_value();
  r.append_value(std::string_view(at, len));
  return 0;
}
int on_headers_complete(http_parser* p) {
  auto& c = conn_of(p);
  auto& r = c.req;
  if (r.in_value) r.end_value();
  // Refuse before reading the body; pausing hands control back to the loop.
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > c.max_body) {
    r.too_large = true;
    http_parser_pause(p, 1);
    return 0;
  }
  if (r.seen[kExpect] && strcasecmp(r.value[kExpect].c_str(), "100-continue") == 0)
    c.out += "HTTP/1.1 100 Continue\r\n\r\n";
  return 0;
}
int on_body(http_parser* p, const char* at, size_t len) {
  auto& c = conn_of(p);
  // Chunked bodies have no length up front.
  if (!c.req.add_body(at, len, c.max_body)) http_parser_pause(p, 1);
  return 0;
}
// Pausing after every request lets the loop decide its fate (and maybe stop
// parsing the pipelined requests behind it) before the parser moves on.
int on_message_complete(http_parser* p) {
  http_parser_pause(p, 1);
  return 0;
}

http_parser_settings make_parser_settings() {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = on_message_begin;
  s.on_url = on_url;
  s.on_header_field = on_header_field;
  s.on_header_value = on_header_value;
  s.on_headers_complete = on_headers_complete;
  s.on_body = on_body;
  s.on_message_complete = on_message_complete;
  return s;
}

template <typename T>
void append_number(std::string& out, T value) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, res.ptr);
}

void append_response(std::string& out, const Reply& reply) {
  out += "HTTP/1.1 ";
  append_number(out, reply.status);
  out += ' ';
  const char* reason = http_status_str(static_cast<http_status>(reply.status));
  out += std::strcmp(reason, "<unknown>") == 0 ? "Status" : reason;
  out += "\r\n";
  if (reply.retry_after >= 0) {
    out += "Retry-After: ";
    append_number(out, reply.retry_after);
    out += "\r\n";
  }
  if (reply.status != 204 && reply.status != 304) out += "Content-Length: 0\r\n";
  if (reply.close) out += "Connection: close\r\n";
  out += "\r\n";
}

void append_field(std::string& out, const Request& r, Slot s) {
  if (!r.seen[s]) {
    out += '-';
    return;
  }
  const size_t start = out.size();
  out += r.value[s];
  // A tab or newline inside a header would break the line format.
  for (size_t i = start; i < out.size(); ++i)
    if (out[i] == '\t' || out[i] == '\n' || out[i] == '\r') out[i] = ' ';
}

void append_tail(std::string& out, uint64_t hash, uint64_t len, const Request& r, int status) {
  char hex[16];
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) hex[15 - i] = kDigits[(hash >> (4 * i)) & 0xf];
  out.append(hex, sizeof hex);
  out += '\t';
  append_number(out, len);
  out += '\t';
  append_number(out, r.arrival_us);
  out += '\t';
  append_number(out, status);
  out += '\n';
}

void append_clean(std::string& out, std::string_view v) {
  for (char ch : v) out += (ch == '\t' || ch == '\n' || ch == '\r') ? ' ' : ch;
}

// One line per accepted event: a batch gives one per element, with its own key and offset.
void append_record(std::string& out, const Request& r, int status) {
  if (!r.is_batch()) {
    for (Slot s : {kKey, kTopic, kPartition, kOffset, kAttempt}) {
      append_field(out, r, s);
      out += '\t';
    }
    return append_tail(out, r.body_hash, r.body_len, r, status);
  }
  for (size_t i = 0; i < r.batch_events.size(); ++i) {
    append_clean(out, r.batch_keys[i]);
    out += '\t';
    append_field(out, r, kTopic);
    out += '\t';
    append_field(out, r, kPartition);
    out += '\t';
    append_clean(out, r.batch_offsets[i]);
    out += '\t';
    append_field(out, r, kAttempt);
    out += '\t';
    uint64_t h = kFnvOffset;
    for (char ch : r.batch_events[i]) h = (h ^ static_cast<unsigned char>(ch)) * kFnvPrime;
    append_tail(out, h, r.batch_events[i].size(), r, status);
  }
}

// Splits a batch into its events; false when the body and the lists do not match up.
bool parse_batch(Request& r) {
  auto events = splitJsonArray(r.body);
  auto keys = splitSfList(r.value[kBatchKeys]);
  auto offsets = splitSfList(r.value[kBatchOffsets]);
  if (!events || !keys || !offsets || events->empty() || keys->size() != events->size() ||
      offsets->size() != events->size()) {
    return false;
  }
  r.batch_events = std::move(*events);
  r.batch_keys = std::move(*keys);
  r.batch_offsets = std::move(*offsets);
  return true;
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

UniqueFd make_listener(const std::string& addr, uint16_t port, bool reuse_port,
                       uint16_t* bound_port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    log("--bind %s is not a numeric IPv4 or IPv6 address", addr.c_str());
    return {};
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int one = 1;
  if (!fd || setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      (reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
      ::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 ||
      ::listen(fd.get(), SOMAXCONN) < 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    log("cannot listen on %s:%u: %s", addr.c_str(), unsigned{port}, std::strerror(errno));
    return {};
  }
  if (bound_port)
    *bound_port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

class Loop {
 public:
  Loop(Shared& shared, int index, UniqueFd listener, int signal_fd)
      : shared_(shared),
        opt_(shared.opt),
        index_(index),
        listener_(std::move(listener)),
        signal_fd_(signal_fd),
        epoll_(epoll_create1(EPOLL_CLOEXEC)),
        writer_(shared.out_fd),
        rng_(shared.opt.seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(index)),
        settings_(make_parser_settings()),
        read_buf_(kReadBufferBytes) {}

  const Stats& stats() const { return stats_; }

  void run() {
    if (!epoll_ || (listener_ && !watch(listener_.get(), kListenerTag)) ||
        (signal_fd_ >= 0 && !watch(signal_fd_, kSignalTag))) {
      log("epoll setup failed: %s", std::strerror(errno));
      shared_.stop = true;
      return;
    }
    if (opt_.refuse_for_ms > 0)
      add_timer(shared_.start_ns + opt_.refuse_after_ms * kNsPerMs, TimerKind::kRefuseStart, 0);
    int64_t now = mono_ns();
    next_flush_ns_ = now + kFlushIntervalNs;
    std::array<epoll_event, 256> events;
    while (!shared_.stop.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                               timeout_ms(now));
      if (n < 0 && errno != EINTR) {
        log("epoll_wait failed: %s", std::strerror(errno));
        shared_.stop = true;
        break;
      }
      for (int i = 0; i < n; ++i) dispatch(events[static_cast<size_t>(i)]);
      now = mono_ns();
      run_timers(now);
      reap();
      if (now >= next_flush_ns_) {
        writer_.flush();
        next_flush_ns_ = now + kFlushIntervalNs;
      }
    }
    // Best effort: answers already decided (e.g. the --max-requests'th) still
    // go out.
    for (auto& [id, c] : conns_)
      if (!c->dead && !c->out.empty()) (void)send_some(*c, c->out.data(), c->out.size());
    writer_.flush();
  }

 private:
  static constexpr uint64_t kListenerTag = 0;
  static constexpr uint64_t kSignalTag = 1;
  static constexpr uint64_t kFirstConnId = 16;

  enum class TimerKind { kRespond, kDrainTimeout, kRefuseStart, kRefuseEnd };
  struct Timer {
    int64_t when_ns;
    uint64_t conn_id;
    TimerKind kind;
    bool operator>(const Timer& o) const { return when_ns > o.when_ns; }
  };

  bool watch(int fd, uint64_t tag, uint32_t events = EPOLLIN) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    return epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void add_timer(int64_t when_ns, TimerKind kind, uint64_t conn_id) {
    timers_.push(Timer{when_ns, conn_id, kind});
  }

  int timeout_ms(int64_t now) const {
    int64_t next = next_flush_ns_;
    if (!timers_.empty()) next = std::min(next, timers_.top().when_ns);
    if (next <= now) return 0;
    return static_cast<int>((next - now + kNsPerMs - 1) / kNsPerMs);  // round up: never spin
  }

  double draw() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

  Conn* find(uint64_t id) {
    const auto it = conns_.find(id);
    return it == conns_.end() || it->second->dead ? nullptr : it->second.get();
  }

  void dispatch(const epoll_event& ev) {
    if (ev.data.u64 == kListenerTag) return accept_all();
    if (ev.data.u64 == kSignalTag) return on_signal();
    Conn* c = find(ev.data.u64);
    if (!c) return;  // closed earlier in this batch
    if ((ev.events & (EPOLLERR | EPOLLHUP)) ||
        ((ev.events & EPOLLRDHUP) && c->state == ConnState::kWaiting)) {
      // A client that gives up on a delayed answer must not be recorded.
      return close_conn(*c);
    }
    if (ev.events & EPOLLOUT) {
      flush_out(*c);
      if (c->tls_wants_write && c->tls && c->tls->established() && !c->dead) on_readable(*c);
    }
    if ((ev.events & EPOLLIN) && !c->dead) on_readable(*c);  // ends in flush_out
  }

  void on_signal() {
    signalfd_siginfo info{};
    if (::read(signal_fd_, &info, sizeof info) == sizeof info)
      log("got %s, stopping", strsignal(static_cast<int>(info.ssi_signo)));
    shared_.stop = true;
  }

  void accept_all() {
    while (listener_) {
      UniqueFd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) log("accept failed: %s", std::strerror(errno));
        return;
      }
      // Replies are tiny and sometimes follow a 100 Continue; Nagle would
      // hold them back behind delayed ACKs.
      const int one = 1;
      (void)setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const uint64_t id = next_id_++;
      if (!watch(fd.get(), id)) continue;
      auto c = std::make_unique<Conn>();
      c->id = id;
      c->fd = std::move(fd);
      c->events = EPOLLIN;
      c->max_body = opt_.max_body;
      http_parser_init(&c->parser, HTTP_REQUEST);
      c->parser.data = c.get();
      if (shared_.tls != nullptr) c->tls = std::make_unique<TlsSession>(*shared_.tls, c->fd.get());
      conns_.emplace(id, std::move(c));
    }
  }

  // What one read or write did, the same for plain TCP and TLS.
  enum class Io { kOk, kWouldBlock, kClosed };
  struct IoResult {
    Io status;
    size_t bytes = 0;
  };

  IoResult from_tls(Conn& c, TlsResult r, bool writing) {
    if (writing) {
      c.tls_write_wants_read = r.status == TlsIo::kWantRead;
    } else {
      c.tls_wants_write = r.status == TlsIo::kWantWrite;
    }
    switch (r.status) {
      case TlsIo::kOk:
        return {Io::kOk, r.bytes};
      case TlsIo::kWantRead:
      case TlsIo::kWantWrite:
        return {Io::kWouldBlock};
      case TlsIo::kError:
        log("TLS error on a connection: %s", c.tls->error().c_str());
        ++stats_.tls_failed;
        return {Io::kClosed};
      case TlsIo::kClosed:
        break;
    }
    return {Io::kClosed};
  }

  IoResult recv_some(Conn& c) {
    if (c.tls) return from_tls(c, c.tls->read(read_buf_.data(), read_buf_.size()), false);
    const ssize_t n = ::read(c.fd.get(), read_buf_.data(), read_buf_.size());
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return {Io::kWouldBlock};
    if (n <= 0) return {Io::kClosed};
    return {Io::kOk, static_cast<size_t>(n)};
  }

  IoResult send_some(Conn& c, const char* data, size_t len) {
    if (c.tls) return from_tls(c, c.tls->write(data, len), true);
    const ssize_t n = ::send(c.fd.get(), data, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return {Io::kWouldBlock};
    if (n < 0) return {Io::kClosed};
    return {Io::kOk, static_cast<size_t>(n)};
  }

  // Drives a TLS handshake; true once it is done. A refused client certificate (mutual
  // TLS) ends here, logged, so tests can see why a client got nothing.
  bool tls_ready(Conn& c) {
    if (!c.tls || c.tls->established()) return true;
    const TlsResult r = c.tls->handshake();
    if (r.status == TlsIo::kOk) {
      c.tls_wants_write = false;
      return true;
    }
    if (r.status == TlsIo::kWantRead || r.status == TlsIo::kWantWrite) {
      c.tls_wants_write = r.status == TlsIo::kWantWrite;
      update_events(c);
      return false;
    }
    log("TLS handshake failed: %s", c.tls->error().empty() ? "connection closed" : c.tls->error().c_str());
    ++stats_.tls_failed;
    // OpenSSL has queued its alert. Closing now, with the client's request unread, would
    // send a reset that can destroy the alert before the client reads it; so half-close
    // and drain the rest as raw bytes, as any other closing connection does.
    c.tls.reset();
    c.tls_wants_write = false;
    c.out.clear();
    if (::shutdown(c.fd.get(), SHUT_WR) < 0) {
      close_conn(c);
      return false;
    }
    c.state = ConnState::kDraining;
    add_timer(mono_ns() + kDrainTimeoutNs, TimerKind::kDrainTimeout, c.id);
    update_events(c);
    return false;
  }

  void on_readable(Conn& c) {
    if (!tls_ready(c)) return;
    // Plain TCP: one read per wakeup (level-triggered). TLS: on until the socket is empty,
    // since bytes OpenSSL has already decrypted raise no epoll event.
    do {
      const IoResult r = recv_some(c);
      if (r.status == Io::kWouldBlock) break;
      if (r.status == Io::kClosed) return close_conn(c);
      // kHung and kDraining input is discarded.
      if (c.state == ConnState::kReading) feed(c, read_buf_.data(), r.bytes);
    } while (c.tls && !c.dead && c.state != ConnState::kWaiting);
    if (!c.dead) flush_out(c);
  }

  void feed(Conn& c, const char* data, size_t len) {
    if (!c.sniffed) {
      c.sniffed = true;
      // Clients write the whole 24-byte preface at once; a plain HTTP/1.1 request never
      // starts with it.
      if (!c.tls && H2cSession::startsWithPreface(std::string_view(data, len))) start_h2(c);
    }
    if (c.h2) return feed_h2(c, data, len);
    while (len > 0 && c.state == ConnState::kReading) {
      const size_t used = http_parser_execute(&c.parser, &settings_, data, len);
      data += used;
      len -= used;
      const auto err = HTTP_PARSER_ERRNO(&c.parser);
      if (err == HPE_PAUSED) {
        http_parser_pause(&c.parser, 0);
        on_request(c);
      } else if (err != HPE_OK || c.parser.upgrade) {
        ++stats_.requests;
        answer(c, Reply{.status = 400, .close = true});
        return;
      }
    }
    if (len > 0 && c.state == ConnState::kWaiting) c.unparsed.assign(data, len);
  }

  void start_h2(Conn& c) {
    log("h2c connection %llu", static_cast<unsigned long long>(c.id));  // tests look for it
    c.h2 = std::make_unique<H2Streams>(c.max_body);
    const uint64_t id = c.id;
    c.h2->on_request = [this, id](int32_t stream, H2Streams::Stream& s) {
      if (Conn* conn = find(id)) on_h2_request(*conn, stream, s);
    };
  }

  void feed_h2(Conn& c, const char* data, size_t len) {
    if (!c.h2->session.feed(data, len) || !c.h2->session.takeOutput(c.out)) return close_conn(c);
    if (c.h2->session.finished()) c.state = ConnState::kClosing;
  }

  // What a request is answered: the status for anything but a well-formed POST, else the
  // fate drawn for it (a hang, a failure, a status, a delay).
  struct Fate {
    Reply reply;
    bool hang = false;
    int64_t delay_ms = 0;
  };
  Fate fate_of(Request& r, bool post, bool get, bool close) {
    if (r.too_large) return {Reply{.status = 413, .close = true}};
    if (!post) {
      const std::string_view path = std::string_view(r.url).substr(0, r.url.find('?'));
      if (get && path == "/healthz") return {Reply{.status = 200, .close = close}};
      return {Reply{.status = 405, .close = close}};
    }
    // A batch that does not split into as many events as keys and offsets is refused
    // before any fault is drawn: sluice sent something malformed.
    if (r.is_batch() && !parse_batch(r)) {
      log("malformed batch: %zu body bytes, keys '%.60s', offsets '%.60s'", r.body.size(),
          r.value[kBatchKeys].c_str(), r.value[kBatchOffsets].c_str());
      return {Reply{.status = 400, .close = close}};
    }
    Reply reply{.status = 200, .record = true, .close = close};
    double u = draw();
    if (u < opt_.hang_share) {
      ++stats_.hung;
      return {reply, true};
    }
    u -= opt_.hang_share;
    if (u < opt_.fail_share) {
      reply.status = opt_.fail_status;
      reply.record = false;
      reply.retry_after = opt_.retry_after;
    } else if (u - opt_.fail_share < opt_.status_share) {
      reply.status = opt_.status;
      reply.record = is_2xx(opt_.status);
    }
    int64_t delay_ms = opt_.latency_ms;
    if (opt_.delay_share > 0 && draw() < opt_.delay_share) {
      ++stats_.delayed;
      delay_ms += opt_.delay_ms;
    }
    return {reply, false, delay_ms};
  }

  void on_request(Conn& c) {
    Request& r = c.req;
    ++stats_.requests;
    r.arrival_us = unix_micros();
    const bool close = http_should_keep_alive(&c.parser) == 0;
    const Fate fate = fate_of(r, c.parser.method == HTTP_POST, c.parser.method == HTTP_GET, close);
    if (fate.hang) {
      c.state = ConnState::kHung;
      return;
    }
    if (fate.delay_ms <= 0) return answer(c, fate.reply);
    c.pending = fate.reply;
    c.state = ConnState::kWaiting;
    add_timer(mono_ns() + fate.delay_ms * kNsPerMs, TimerKind::kRespond, c.id);
  }

  // A stream that hangs is never answered (the client's timeout ends it); a delay is not
  // applied on h2c (see H2Streams).
  void on_h2_request(Conn& c, int32_t stream, H2Streams::Stream& s) {
    ++stats_.requests;
    s.req.arrival_us = unix_micros();
    const Fate fate = fate_of(s.req, s.method == "POST", s.method == "GET", false);
    if (fate.hang) return;
    if (fate.delay_ms > 0 && !h2_delay_logged_) {
      h2_delay_logged_ = true;
      log("h2c: --latency-ms and --delay-* are not applied; h2c requests are answered at once");
    }
    // Recorded only once the answer is queued, as on HTTP/1.1.
    if (c.h2->session.respond(stream, fate.reply.status, fate.reply.retry_after)) {
      record(s.req, fate.reply);
    }
  }

  void answer(Conn& c, const Reply& reply) {
    record(c.req, reply);
    append_response(c.out, reply);
    c.state = reply.close ? ConnState::kClosing : ConnState::kReading;
  }

  void record(const Request& r, const Reply& reply) {
    if (reply.record) {
      ++stats_.accepted;
      append_record(writer_.buffer(), r, reply.status);
      if (writer_.buffer().size() >= kFlushAtBytes) writer_.flush();
      if (opt_.max_requests > 0 &&
          shared_.accepted_total.fetch_add(1, std::memory_order_relaxed) + 1 >= opt_.max_requests)
        shared_.stop = true;
    } else if (!is_2xx(reply.status)) {
      ++stats_.failed;
    }
  }

  void flush_out(Conn& c) {
    if (!tls_ready(c)) return;
    size_t sent = 0;
    while (sent < c.out.size()) {
      const IoResult r = send_some(c, c.out.data() + sent, c.out.size() - sent);
      if (r.status == Io::kWouldBlock) break;
      if (r.status == Io::kClosed) return close_conn(c);
      sent += r.bytes;
    }
    c.out.erase(0, sent);
    if (c.out.empty() && c.state == ConnState::kClosing) {
      if (c.tls) c.tls->sendCloseNotify();
      if (::shutdown(c.fd.get(), SHUT_WR) < 0) return close_conn(c);
      c.state = ConnState::kDraining;
      add_timer(mono_ns() + kDrainTimeoutNs, TimerKind::kDrainTimeout, c.id);
    }
    update_events(c);
  }

  void update_events(Conn& c) {
    uint32_t want = 0;
    switch (c.state) {
      case ConnState::kReading:
        if (c.out.size() < kMaxPendingOut) want |= EPOLLIN;
        break;
      case ConnState::kHung:
      case ConnState::kDraining:
        want |= EPOLLIN;
        break;
      case ConnState::kWaiting:
        want |= EPOLLRDHUP;  // only to notice a client giving up
        break;
      case ConnState::kClosing:
        break;
    }
    if ((!c.out.empty() && !c.tls_write_wants_read) || c.tls_wants_write) want |= EPOLLOUT;
    if (c.tls_write_wants_read) want |= EPOLLIN;
    if (c.tls && !c.tls->established()) want = c.tls_wants_write ? EPOLLOUT : EPOLLIN;
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.id;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) < 0) return close_conn(c);
    c.events = want;
  }

  // The Conn stays in the map until reap(), so references held up the call
  // stack and later events in the same epoll batch stay valid.
  void close_conn(Conn& c) {
    if (c.dead) return;
    c.dead = true;
    c.fd.reset();
    dead_.push_back(c.id);
  }

  void reap() {
    for (uint64_t id : dead_) conns_.erase(id);
    dead_.clear();
  }

  void run_timers(int64_t now) {
    while (!timers_.empty() && timers_.top().when_ns <= now) {
      const Timer t = timers_.top();
      timers_.pop();
      switch (t.kind) {
        case TimerKind::kRespond:
          if (Conn* c = find(t.conn_id); c && c->state == ConnState::kWaiting) respond_late(*c);
          break;
        case TimerKind::kDrainTimeout:
          if (Conn* c = find(t.conn_id)) close_conn(*c);
          break;
        case TimerKind::kRefuseStart:
          refuse_start();
          break;
        case TimerKind::kRefuseEnd:
          refuse_end(now);
          break;
      }
    }
  }

  void respond_late(Conn& c) {
    answer(c, c.pending);
    if (c.state == ConnState::kReading && !c.unparsed.empty()) {
      const std::string held = std::move(c.unparsed);
      c.unparsed.clear();
      feed(c, held.data(), held.size());
    }
    // Pipelined requests OpenSSL decrypted while we waited raise no epoll event.
    if (c.tls && c.state == ConnState::kReading && c.tls->pending()) return on_readable(c);
    flush_out(c);
  }

  void refuse_start() {
    listener_.reset();  // closing the socket also drops it from the epoll set
    size_t closed = 0;
    for (auto& [id, c] : conns_)
      if (!c->dead) {
        close_conn(*c);
        ++closed;
      }
    if (index_ == 0)
      log("refusing connections on port %u for %d ms", unsigned{shared_.port}, opt_.refuse_for_ms);
    if (closed > 0) log("closed %zu open connections", closed);
    add_timer(shared_.start_ns + (opt_.refuse_after_ms + opt_.refuse_for_ms) * kNsPerMs,
              TimerKind::kRefuseEnd, 0);
  }

  void refuse_end(int64_t now) {
    listener_ = make_listener(opt_.bind, shared_.port, opt_.threads > 1, nullptr);
    if (!listener_ || !watch(listener_.get(), kListenerTag)) {
      listener_.reset();
      log("listening again failed, retrying in 100 ms");
      return add_timer(now + kRelistenRetryNs, TimerKind::kRefuseEnd, 0);
    }
    if (index_ == 0) log("accepting connections again on port %u", unsigned{shared_.port});
  }

  Shared& shared_;
  const Options& opt_;
  const int index_;
  UniqueFd listener_;
  const int signal_fd_;
  UniqueFd epoll_;
  RecordWriter writer_;
  std::mt19937_64 rng_;
  const http_parser_settings settings_;
  std::vector<char> read_buf_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::vector<uint64_t> dead_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t next_id_ = kFirstConnId;
  int64_t next_flush_ns_ = 0;
  bool h2_delay_logged_ = false;
  Stats stats_;
};

bool write_port_file(const std::string& path, uint16_t port) {
  // Readers poll for the file; rename makes it appear complete or not at all.
  const std::string tmp = path + ".tmp";
  std::string text = std::to_string(port) + "\n";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::rename(tmp.c_str(), path.c_str()) < 0) {
    log("cannot write port file %s: %s", path.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

int run(int argc, char** argv) {
  Options opt;
  CLI::App app{"Recording HTTP sink for sluice tests: records accepted requests, injects faults."};
  app.add_option("--port", opt.port, "Port to listen on (0: ephemeral)");
  app.add_option("--bind", opt.bind, "Numeric address to bind")->capture_default_str();
  app.add_option("--port-file", opt.port_file, "Write the bound port here (atomically)");
  app.add_option("--out", opt.out, "Record file, appended to")->required();
  app.add_option("--latency-ms", opt.latency_ms, "Delay before every answer")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--delay-share", opt.delay_share, "Share of requests delayed by --delay-ms")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--delay-ms", opt.delay_ms, "Extra delay for --delay-share")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--fail-share", opt.fail_share, "Share answered with --fail-status")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--fail-status", opt.fail_status, "Status for --fail-share")
      ->capture_default_str()
      ->check(CLI::Range(200, 599));
  app.add_option("--retry-after", opt.retry_after, "Retry-After seconds on --fail-share answers")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--hang-share", opt.hang_share, "Share of requests never answered")
      ->check(CLI::Range(0.0, 1.0));
  auto* status = app.add_option("--status", opt.status, "Status for --status-share")
                     ->check(CLI::Range(200, 599));
  app.add_option("--status-share", opt.status_share, "Share answered with --status")
      ->check(CLI::Range(0.0, 1.0))
      ->needs(status);
  app.add_option("--refuse-after-ms", opt.refuse_after_ms, "Stop listening this long after start")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--refuse-for-ms", opt.refuse_for_ms, "How long to refuse connections")
      ->check(CLI::NonNegativeNumber);
  auto* seed = app.add_option("--seed", opt.seed, "Seed for fault selection (default: time)");
  app.add_option("--max-requests", opt.max_requests, "Exit after this many accepted requests");
  app.add_option("--max-body-bytes", opt.max_body, "Larger bodies get 413")->capture_default_str();
  app.add_option("--threads", opt.threads, "Event loops sharing the port via SO_REUSEPORT")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  auto* tls_cert = app.add_option("--tls-cert", opt.tls_cert, "PEM certificate chain: serve HTTPS")
                       ->check(CLI::ExistingFile);
  auto* tls_key = app.add_option("--tls-key", opt.tls_key, "PEM private key of --tls-cert")
                      ->check(CLI::ExistingFile);
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
  app.add_option("--tls-client-ca", opt.tls_client_ca,
                 "PEM CA: require client certificates it signed (mutual TLS)")
      ->check(CLI::ExistingFile)
      ->needs(tls_cert);
  CLI11_PARSE(app, argc, argv);

  if (opt.hang_share + opt.fail_share + opt.status_share > 1.0) {
    log("--hang-share + --fail-share + --status-share must not exceed 1");
    return 2;
  }
  if (seed->count() == 0) opt.seed = static_cast<uint64_t>(clock_ns(CLOCK_REALTIME));
  log("seed %llu", static_cast<unsigned long long>(opt.seed));

  ::signal(SIGPIPE, SIG_IGN);
  // Blocked before any thread starts so every thread inherits the mask and
  // the signals are only seen through the signalfd.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return 1;
  UniqueFd signal_fd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd) {
    log("signalfd failed: %s", std::strerror(errno));
    return 1;
  }

  std::unique_ptr<TlsServerContext> tls;
  if (!opt.tls_cert.empty()) {
    try {
      tls = std::make_unique<TlsServerContext>(opt.tls_cert, opt.tls_key, opt.tls_client_ca);
    } catch (const std::exception& e) {
      log("TLS setup failed: %s", e.what());
      return 1;
    }
  }

  UniqueFd out_fd(::open(opt.out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!out_fd) {
    log("cannot open %s: %s", opt.out.c_str(), std::strerror(errno));
    return 1;
  }

  const bool reuse_port = opt.threads > 1;
  uint16_t port = 0;
  std::vector<UniqueFd> listeners;
  listeners.push_back(make_listener(opt.bind, opt.port, reuse_port, &port));
  if (!listeners[0]) return 1;
  for (int i = 1; i < opt.threads; ++i) {
    listeners.push_back(make_listener(opt.bind, port, reuse_port, nullptr));
    if (!listeners.back()) return 1;
  }
  if (!opt.port_file.empty() && !write_port_file(opt.port_file, port)) return 1;
  const bool v6 = opt.bind.find(':') != std::string::npos;
  std::printf(v6 ? "listening on [%s]:%u\n" : "listening on %s:%u\n", opt.bind.c_str(),
              unsigned{port});
  std::fflush(stdout);

  Shared shared{
      .opt = opt, .out_fd = out_fd.get(), .port = port, .start_ns = mono_ns(), .tls = tls.get()};
  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < opt.threads; ++i)
    loops.push_back(std::make_unique<Loop>(shared, i, std::move(listeners[static_cast<size_t>(i)]),
                                           i == 0 ? signal_fd.get() : -1));
  // Loops only poll `stop` between waits; the 50 ms flush tick bounds how long
  // the other threads take to notice it.
  std::vector<std::thread> threads;
  for (size_t i = 1; i < loops.size(); ++i) threads.emplace_back([&loop = *loops[i]] { loop.run(); });
  loops[0]->run();
  shared.stop = true;
  for (auto& t : threads) t.join();

  Stats total;
  for (const auto& loop : loops) total += loop->stats();
  log("requests=%llu accepted=%llu failed=%llu hung=%llu delayed=%llu tls_failed=%llu",
      static_cast<unsigned long long>(total.requests), static_cast<unsigned long long>(total.accepted),
      static_cast<unsigned long long>(total.failed), static_cast<unsigned long long>(total.hung),
      static_cast<unsigned long long>(total.delayed),
      static_cast<unsigned long long>(total.tls_failed));
  return 0;
}

}  // namespace
}  // namespace sluice::tools

int main(int argc, char** argv) { return sluice::tools::run(argc, argv); }
