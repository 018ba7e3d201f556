// The loop's side of the curl transport: which sockets epoll watches for curl (and which stay
// registered while their connection idles), the sockets curl opens and closes through us, and
// curl's one timer.
#include "http/curl_multi_transport.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sluice {

int CurlMultiTransport::onSocket(CURL*, curl_socket_t s, int what, void* self, void*) {
  static_cast<CurlMultiTransport*>(self)->socketWanted(s, what);
  return 0;
}

CurlMultiTransport::SocketState& CurlMultiTransport::socketState(curl_socket_t s) {
  const auto index = static_cast<std::size_t>(s);
  if (index >= sockets_.size()) sockets_.resize(index + 1);
  return sockets_[index];
}

void CurlMultiTransport::socketWanted(curl_socket_t s, int what) {
  SocketState& state = socketState(s);
  if (what == CURL_POLL_REMOVE) {
    state.curl_wants = false;
    // Parked: an idle keep-alive connection of ours stays registered for reading (its next
    // request wants just that); anything else leaves epoll now.
    if (state.ours && state.registered == EPOLLIN) return;
    if (state.registered != 0) loop_.unwatch(s);
    state.registered = 0;
    return;
  }
  std::uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  state.curl_wants = true;
  // curl calls this for every transfer on a socket, mostly with an unchanged interest set.
  if (state.registered == events) return;
  if (state.registered == 0) {
    loop_.watch(s, events, [this, s](std::uint32_t ev) { socketReady(s, ev); });
  } else {
    loop_.setEvents(s, events);
  }
  state.registered = events;
}

curl_socket_t CurlMultiTransport::onOpenSocket(void* self, curlsocktype purpose,
                                               curl_sockaddr* address) {
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;  // curl asks nothing else of us
  const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  auto* me = static_cast<CurlMultiTransport*>(self);
  SocketState& state = me->socketState(fd);
  // Still registered: this number was closed without onCloseSocket (curl has paths that do).
  // The kernel dropped that registration with the old socket; forget ours too.
  if (state.registered != 0) me->loop_.unwatch(fd);
  state = SocketState{.ours = true};
  return fd;
}

int CurlMultiTransport::onCloseSocket(void* self, curl_socket_t s) {
  auto* me = static_cast<CurlMultiTransport*>(self);
  SocketState& state = me->socketState(s);
  if (state.registered != 0) me->loop_.unwatch(s);
  state = SocketState{};
  return ::close(s);
}

int CurlMultiTransport::onTimer(CURLM*, long timeout_ms, void* self) {
  auto* me = static_cast<CurlMultiTransport*>(self);
  if (timeout_ms < 0) {
    if (me->timer_ != 0) me->loop_.cancel(me->timer_);
    me->timer_ = 0;
    return 0;
  }
  if (me->timer_ != 0 && me->loop_.reschedule(me->timer_, Millis(timeout_ms))) return 0;
  // A timer already due can still run after a newer one replaced it (both in one round): only
  // the current one may forget timer_, or the newer one could no longer be cancelled.
  const std::uint64_t generation = ++me->timer_generation_;
  me->timer_ = me->loop_.runAfter(Millis(timeout_ms), [me, generation] {
    if (generation == me->timer_generation_) me->timer_ = 0;
    me->timerDue();
  });
  return 0;
}

void CurlMultiTransport::socketReady(curl_socket_t s, std::uint32_t events) {
  SocketState& state = socketState(s);
  if (!state.curl_wants) {
    // A parked connection became readable: the sink closed it (or sent what it should not).
    // curl finds that out when it next checks the connection; until then, stop listening,
    // or level-triggered epoll would wake us for it on every turn.
    loop_.unwatch(s);
    state.registered = 0;
    return;
  }
  int flags = 0;
  if (events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
  if (events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
  if (events & EPOLLERR) flags |= CURL_CSELECT_ERR;
  int running = 0;
  curl_multi_socket_action(multi_.get(), s, flags, &running);
  collectDone();
}

void CurlMultiTransport::timerDue() {
  int running = 0;
  curl_multi_socket_action(multi_.get(), CURL_SOCKET_TIMEOUT, 0, &running);
  collectDone();
}

}  // namespace sluice
