#include "http/status_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace sluice {
namespace {

// Input a connection may send after its answer before it is cut off (see flush()).
constexpr std::size_t kMaxDrain = 64 * 1024;
constexpr std::chrono::minutes kWarningInterval{1};

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

StatusServer::StatusServer(EventLoop& loop, const std::string& listen, Handler handler,
                           StatusServerLimits limits)
    : loop_(loop), handler_(std::move(handler)), limits_(limits) {
  limits_.max_connections = std::max<std::size_t>(limits_.max_connections, 1);
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("metrics.listen: want HOST:PORT");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  const std::string host = listen.substr(0, colon);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error("metrics.listen: '" + host + "' is not an IPv4 address");
  }
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw std::runtime_error("metrics.listen: bad port in " + listen);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener_) throw std::system_error(errno, std::generic_category(), "socket");
  const int one = 1;
  ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::system_error(errno, std::generic_category(), "metrics.listen " + listen);
  }
  // A deep accept queue: in a connect burst a probe's connection waits a moment for its turn
  // (each accept beyond the cap evicts a stalled one) instead of losing its SYN and retrying
  // a second later, past a typical 1 s probe timeout. The kernel caps it at net.core.somaxconn.
  if (::listen(listener_.get(), SOMAXCONN) != 0) {
    throw std::system_error(errno, std::generic_category(), "listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  loop_.watch(listener_.get(), EPOLLIN, [this](std::uint32_t) { accept(); });
}

StatusServer::~StatusServer() {
  for (auto& [fd, c] : connections_) {
    loop_.unwatch(fd);
    loop_.cancel(c->deadline);
  }
  loop_.cancel(resume_accepting_);
  loop_.unwatch(listener_.get());
}

StatusServer::Stats StatusServer::stats() const {
  Stats s = counters_;
  s.connections = connections_.size();
  for (const auto& [fd, c] : connections_) {
    s.buffered_bytes += c->in.size() + c->out.size() - c->written;
  }
  return s;
}

void StatusServer::accept() {
  // A quarter of the cap per wake: a connect flood cannot hold the loop (the listener stays
  // readable and we come back next round), nor push a connection accepted a moment ago out
  // before the loop has read what it sent.
  const std::size_t batch = std::max<std::size_t>(limits_.max_connections / 4, 1);
  for (std::size_t i = 0; i < batch; ++i) {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      pauseAccepting(errno);  // EMFILE, ENFILE, ENOBUFS, ENOMEM: no progress possible now
      return;
    }
    if (connections_.size() >= limits_.max_connections) evictOne();
    auto c = std::make_unique<Connection>();
    c->fd.reset(fd);
    c->seq = next_seq_++;
    c->deadline = loop_.runAfter(limits_.deadline, [this, fd] {
      ++counters_.timed_out;
      cutOff(fd);
    });
    connections_.emplace(fd, std::move(c));
    loop_.watch(fd, EPOLLIN, [this, fd](std::uint32_t) { onEvent(fd); });
  }
}

void StatusServer::pauseAccepting(int error) {
  // The waiting connection keeps the level-triggered listener readable, so watching it while
  // accept cannot succeed would spin the loop at full CPU; look again a little later.
  loop_.setEvents(listener_.get(), 0);
  resume_accepting_ = loop_.runAfter(limits_.accept_pause, [this] {
    resume_accepting_ = 0;
    loop_.setEvents(listener_.get(), EPOLLIN);
  });
  ++counters_.accept_pauses;
  const TimePoint now = loop_.now();
  if (!warned_at_ || now - *warned_at_ >= kWarningInterval) {
    warned_at_ = now;
    spdlog::warn("status port: accept failed ({}); pausing {} ms each time ({} pauses so far)",
                 std::error_code(error, std::generic_category()).message(),
                 limits_.accept_pause.count(), counters_.accept_pauses);
  }
}

void StatusServer::evictOne() {
  // The oldest connection still sending its request: a stalled client loses its place, a probe
  // that sends its request in one go never does. Only when all are being answered (slow
  // readers) does the oldest of those go. A draining connection counts as being answered: the
  // kernel may still hold the end of its answer, which a reset would throw away.
  const auto rank = [](const Connection& c) {
    return std::pair(c.phase != Phase::kReading, c.seq);
  };
  const auto victim = std::min_element(
      connections_.begin(), connections_.end(),
      [&](const auto& a, const auto& b) { return rank(*a.second) < rank(*b.second); });
  ++counters_.evicted;
  cutOff(victim->first);
}

void StatusServer::onEvent(int fd) {
  // The event mask is not consulted: after a close in the same round the fd number may belong
  // to a new connection, and the socket calls below report errors and hang-ups anyway.
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  switch (c.phase) {
    case Phase::kReading:
      readRequest(c);
      break;
    case Phase::kWriting:
      flush(c);
      break;
    case Phase::kDraining:
      drain(c);
      break;
  }
}

void StatusServer::readRequest(Connection& c) {
  const int fd = c.fd.get();
  bool closed = false;
  // Never past the head limit: at the limit the parser's answer is final.
  while (!closed && c.in.size() < kMaxStatusRequestHead) {
    std::array<char, 4096> buf;
    const std::size_t want = std::min(buf.size(), kMaxStatusRequestHead - c.in.size());
    const ssize_t n = ::read(fd, buf.data(), want);
    if (n > 0) {
      c.in.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EAGAIN) {
      break;
    } else if (n == 0 || errno != EINTR) {
      closed = true;
    }
  }
  counters_.largest_request = std::max(counters_.largest_request, c.in.size());
  const StatusRequest request = parseStatusRequest(c.in);
  if (request.head != StatusRequest::Head::kIncomplete) {
    respond(c, request);  // even when closed: a client may half-close after its request
  } else if (closed) {
    close(fd);
  }
}

void StatusServer::respond(Connection& c, const StatusRequest& request) {
  Response r;
  bool head_only = false;
  switch (request.head) {
    case StatusRequest::Head::kComplete:
      if (request.method == "GET" || request.method == "HEAD") {
        r = handler_(request.path);
        head_only = request.method == "HEAD";
      } else {
        r.status = 405;
        r.body = "GET or HEAD only\n";
      }
      break;
    case StatusRequest::Head::kTooLarge:
      r.status = 431;
      r.body = "request head too large\n";
      break;
    case StatusRequest::Head::kMalformed:
    case StatusRequest::Head::kIncomplete:
      r.status = 400;
      r.body = "bad request\n";
      break;
  }
  // A HEAD answer's Content-Length is that of the GET answer (RFC 9110 §8.6). The head is
  // built before the body is appended: within one expression the body could be moved out
  // before its size is read (the operands of + are unsequenced), which sent Content-Length 0.
  c.out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n" +
          (r.status == 405 ? "Allow: GET, HEAD\r\n" : "") + "Content-Type: " + r.content_type +
          "\r\nContent-Length: " + std::to_string(r.body.size()) +
          "\r\nConnection: close\r\n\r\n";
  if (!head_only) c.out += r.body;
  c.in = std::string();  // request and path point into it; neither is needed any more
  c.phase = Phase::kWriting;
  flush(c);
}

void StatusServer::flush(Connection& c) {
  const int fd = c.fd.get();
  while (c.written < c.out.size()) {
    const ssize_t n =
        ::send(fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      loop_.setEvents(fd, EPOLLOUT);
      return;
    } else if (n == 0 || errno != EINTR) {
      close(fd);
      return;
    }
  }
  // Closing with unread input would send a reset, which can destroy the answer before the
  // client has read it; so half-close and read until the client closes (RFC 9112 §9.6).
  c.out = std::string();
  c.written = 0;
  if (::shutdown(fd, SHUT_WR) != 0) {  // the peer is gone already
    close(fd);
    return;
  }
  c.phase = Phase::kDraining;
  loop_.setEvents(fd, EPOLLIN);
  drain(c);
}

void StatusServer::drain(Connection& c) {
  const int fd = c.fd.get();
  for (;;) {
    std::array<char, 4096> buf;
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      c.drained += static_cast<std::size_t>(n);
      if (c.drained > kMaxDrain) break;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fd);
}

void StatusServer::cutOff(int fd) {
  // A reset rather than a FIN: the kernel drops the unsent answer at once instead of keeping
  // it for a peer that does not read.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd);
}

void StatusServer::close(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  loop_.unwatch(fd);
  loop_.cancel(it->second->deadline);  // a no-op when it is the deadline that fired
  connections_.erase(it);              // closes the fd
}

}  // namespace sluice
