#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// What one POST to a sink carries. Views must stay valid until the response (or cancel).
struct HttpRequest {
  std::uint32_t sink = 0;
  std::string_view body;
  std::string_view idempotency_key;  // already an sf-string
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::uint32_t attempt = 1;
  // A batch (several events of one partition, `body` a JSON array of them): the events'
  // keys as an sf-list of sf-strings and their offsets as an sf-list of integers, both in
  // body order; idempotency_key then names the batch (and `offset` is not sent). Empty for
  // a single event.
  std::string_view batch_keys;
  std::string_view batch_offsets;
  // Headers a transform set (a single event's), sent after sluice's own: first `headers`,
  // then `more` (a sink transform's, which win on the same name). Null when none.
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
  const std::vector<std::pair<std::string, std::string>>* more_headers = nullptr;
};

// kTls: handshake or certificate problems, which (unlike a refused connection) usually mean a
// configuration to fix, so they are logged as such.
enum class TransportFailure { kNone, kConnect, kTimeout, kTls, kOther };

struct HttpResponse {
  long status = 0;  // 0 when no HTTP answer arrived
  TransportFailure failure = TransportFailure::kNone;
  std::string error;        // transport error text, empty on an HTTP answer
  std::string retry_after;  // raw Retry-After header value, empty if absent
  std::chrono::microseconds elapsed{0};
};

class HttpResponseHandler {
 public:
  virtual ~HttpResponseHandler() = default;
  virtual void onResponse(std::uint64_t token, const HttpResponse& response) = 0;
};

// Sends POSTs without blocking; every send() ends in exactly one onResponse() for its token,
// unless cancel() is called first. An interface so the dispatcher can be tested with a fake.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual void send(std::uint64_t token, const HttpRequest& request) = 0;
  virtual void cancel(std::uint64_t token) = 0;
};
using HttpTransportPtr = std::unique_ptr<HttpTransport>;

}  // namespace sluice
