#include "http/status_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace sluice {
namespace {

constexpr std::size_t kMaxRequest = 16 * 1024;
constexpr Millis kConnectionDeadline{5'000};

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
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

StatusServer::StatusServer(EventLoop& loop, const std::string& listen, Handler handler)
    : loop_(loop), handler_(std::move(handler)) {
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
  if (::listen(listener_.get(), 64) != 0) {
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
    if (c->deadline != 0) loop_.cancel(c->deadline);
  }
  loop_.unwatch(listener_.get());
}

void StatusServer::accept() {
  for (;;) {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of descriptors: try again on the next wake
    auto c = std::make_unique<Connection>();
    c->fd.reset(fd);
    c->deadline = loop_.runAfter(kConnectionDeadline, [this, fd] {
      if (auto it = connections_.find(fd); it != connections_.end()) it->second->deadline = 0;
      close(fd);
    });
    connections_.emplace(fd, std::move(c));
    loop_.watch(fd, EPOLLIN, [this, fd](std::uint32_t ev) { onEvent(fd, ev); });
  }
}

void StatusServer::onEvent(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (!c.out.empty()) {
    flush(fd);
    return;
  }
  if (events & (EPOLLERR | EPOLLHUP)) {
    close(fd);
    return;
  }
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      c.in.append(buf.data(), static_cast<std::size_t>(n));
      if (c.in.size() > kMaxRequest) break;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      close(fd);
      return;
    }
    if (errno == EAGAIN) break;
  }
  if (c.in.size() > kMaxRequest || c.in.find("\r\n\r\n") != std::string::npos) {
    respond(c);
    flush(fd);
  }
}

void StatusServer::respond(Connection& c) {
  Response r;
  if (c.in.size() > kMaxRequest) {
    r.status = 431;
  } else {
    // Request line: METHOD SP TARGET SP VERSION
    const auto line_end = c.in.find("\r\n");
    const std::string_view line(c.in.data(), line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.find(' ', sp1 + 1);
    const std::string_view method = line.substr(0, sp1);
    std::string_view target = sp1 == std::string_view::npos
                                  ? std::string_view()
                                  : line.substr(sp1 + 1, sp2 - sp1 - 1);
    target = target.substr(0, target.find('?'));
    if (method != "GET" && method != "HEAD") {
      r.status = 405;
    } else {
      r = handler_(target);
      if (method == "HEAD") r.body.clear();
    }
  }
  c.out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) +
          "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " +
          std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
}

void StatusServer::flush(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  while (c.written < c.out.size()) {
    const ssize_t n = ::write(fd, c.out.data() + c.written, c.out.size() - c.written);
    if (n > 0) {
      c.written += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      loop_.setEvents(fd, EPOLLOUT);
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  close(fd);
}

void StatusServer::close(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  loop_.unwatch(fd);
  if (it->second->deadline != 0) loop_.cancel(it->second->deadline);
  connections_.erase(it);  // closes the fd
}

}  // namespace sluice
