#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "loop/event_loop.h"
#include "util/unique_fd.h"

namespace sluice {

// A small HTTP/1.1 server on the event loop for /metrics, /healthz and /readyz: GET only, one
// request per connection, answered from the loop thread, so no thread ever blocks on these
// sockets and a stalled loop shows as a failing health check.
class StatusServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  using Handler = std::function<Response(std::string_view path)>;

  // listen: "HOST:PORT" with an IPv4 host ("0.0.0.0:9464"); port 0 picks a free one.
  StatusServer(EventLoop& loop, const std::string& listen, Handler handler);  // throws
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  int port() const { return port_; }

 private:
  struct Connection {
    UniqueFd fd;
    std::string in;
    std::string out;
    std::size_t written = 0;
    Scheduler::TimerId deadline = 0;
  };
  void accept();
  void onEvent(int fd, std::uint32_t events);
  void respond(Connection& c);
  void flush(int fd);
  void close(int fd);

  EventLoop& loop_;
  Handler handler_;
  UniqueFd listener_;
  int port_ = 0;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
};

}  // namespace sluice
