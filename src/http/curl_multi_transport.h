#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "http/curl_handles.h"
#include "delivery/http_transport.h"
#include "loop/event_loop.h"

namespace sluice {

// All sinks' transfers on one CURLM driven by the event loop through
// curl_multi_socket_action: curl tells us which sockets to watch and when its timer is due;
// we never block in curl. Easy handles are pooled per sink so connections and TLS sessions are
// reused (keep-alive), and HTTP/2 streams are multiplexed where a sink enables it.
// The sockets curl opens through us stay registered with epoll while their connection idles in
// curl's cache: the next request on it usually wants the same events, which saves an
// epoll_ctl pair per request. Knowing when such a socket is opened and closed is what makes
// that safe: a registration never outlives its socket's number.
class CurlMultiTransport final : public HttpTransport {
 public:
  CurlMultiTransport(EventLoop& loop, const std::vector<SinkConfig>& sinks,
                     HttpResponseHandler& handler);  // throws at start-up on curl failure
  ~CurlMultiTransport() override;

  void send(std::uint64_t token, const HttpRequest& request) override;
  void cancel(std::uint64_t token) override;

  std::size_t active() const { return active_.size(); }
  std::size_t pooledHandles(std::uint32_t sink) const { return sinks_[sink].idle.size(); }

 private:
  struct Transfer;
  struct SinkSlot {
    SinkConfig config;
    std::vector<std::string> fixed_headers;  // "Name: value", built once
    std::vector<std::unique_ptr<Transfer>> idle;
    std::size_t in_use = 0;  // handles out of `idle`: sending, or about to
  };
  static constexpr std::size_t kMinIdleHandles = 8;

  // What epoll and curl know of one socket, indexed by its number.
  struct SocketState {
    bool ours = false;        // opened by onOpenSocket, so onCloseSocket sees it closed
    bool curl_wants = false;  // false: idle in curl's connection cache ("parked")
    std::uint32_t registered = 0;  // the events epoll watches; 0: not registered
  };

  static void addTransformHeaders(Transfer& t, const HttpRequest& r);
  static int onSocket(CURL* easy, curl_socket_t s, int what, void* self, void* socketp);
  static curl_socket_t onOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int onCloseSocket(void* self, curl_socket_t s);
  static int onTimer(CURLM* multi, long timeout_ms, void* self);
  static size_t onHeader(char* buffer, size_t size, size_t nitems, void* transfer);
  static size_t onBody(char* ptr, size_t size, size_t nmemb, void* transfer);

  SocketState& socketState(curl_socket_t s);
  void socketWanted(curl_socket_t s, int what);
  void socketReady(curl_socket_t s, std::uint32_t events);
  void timerDue();
  void collectDone();
  std::unique_ptr<Transfer> acquire(std::uint32_t sink);
  void release(std::unique_ptr<Transfer> t);

  EventLoop& loop_;
  HttpResponseHandler& handler_;
  std::vector<SocketState> sockets_;  // outlives multi_: its cleanup closes sockets through us
  CurlMultiPtr multi_;
  std::vector<SinkSlot> sinks_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Transfer>> active_;
  Scheduler::TimerId timer_ = 0;
  std::uint64_t timer_generation_ = 0;  // which runAfter timer_ is
};

}  // namespace sluice
