#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/status_request.h"
#include "loop/event_loop.h"
#include "util/unique_fd.h"

namespace sluice {

// How much the status port gives any one client; the defaults are what sluice runs with.
struct StatusServerLimits {
  // Connections held at once. At the cap a new connection evicts the oldest one that is still
  // sending its request, so stalled clients cannot lock out probes.
  std::size_t max_connections = 64;
  // From accept to the last byte of the answer: covers slow senders and slow readers alike.
  Millis deadline{5'000};
  // How long the listener rests after accept fails for want of descriptors or memory.
  Millis accept_pause{100};
};

// A small HTTP/1.1 server on the event loop for /metrics, /healthz and /readyz: GET and HEAD,
// one request per connection, answered from the loop thread, so no thread ever blocks on these
// sockets and a stalled loop shows as a failing health check. It listens on the pod network,
// so every client is treated as hostile: connections, time and bytes per connection are
// bounded (StatusServerLimits, kMaxStatusRequestHead), and no socket call ever blocks.
class StatusServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  using Handler = std::function<Response(std::string_view path)>;

  // What the limits did; exported for tests (and for metrics, later).
  struct Stats {
    std::size_t connections = 0;
    std::size_t buffered_bytes = 0;  // request bytes held plus answer bytes not yet written
    std::size_t largest_request = 0;  // the most request bytes one connection has held
    std::uint64_t evicted = 0;
    std::uint64_t timed_out = 0;
    std::uint64_t accept_pauses = 0;
  };

  // listen: "HOST:PORT" with an IPv4 host ("0.0.0.0:9464"); port 0 picks a free one.
  StatusServer(EventLoop& loop, const std::string& listen, Handler handler,
               StatusServerLimits limits = {});  // throws
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  int port() const { return port_; }
  Stats stats() const;  // loop thread only

 private:
  enum class Phase {
    kReading,   // the request head is arriving
    kWriting,   // the answer is going out
    kDraining,  // answered and half-closed; discarding input until the client closes
  };
  struct Connection {
    UniqueFd fd;
    std::uint64_t seq = 0;  // accept order
    Phase phase = Phase::kReading;
    std::string in;
    std::string out;
    std::size_t written = 0;
    std::size_t drained = 0;
    Scheduler::TimerId deadline = 0;
  };
  void accept();
  void pauseAccepting(int error);
  void evictOne();
  void onEvent(int fd);
  void readRequest(Connection& c);
  void respond(Connection& c, const StatusRequest& request);
  void flush(Connection& c);
  void drain(Connection& c);
  void cutOff(int fd);
  void close(int fd);

  EventLoop& loop_;
  Handler handler_;
  StatusServerLimits limits_;
  UniqueFd listener_;
  int port_ = 0;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::uint64_t next_seq_ = 0;
  Scheduler::TimerId resume_accepting_ = 0;
  std::optional<TimePoint> warned_at_;
  Stats counters_;  // largest_request, evicted, timed_out, accept_pauses
};

}  // namespace sluice
