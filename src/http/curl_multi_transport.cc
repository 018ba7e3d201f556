#include "http/curl_multi_transport.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice {

CurlGlobal::CurlGlobal() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    throw std::runtime_error("curl_global_init failed");
  }
}

// The per-request headers, after the sink's fixed ones. kBatchKeys only goes out with a
// batch, so it is last: a single event's list ends at kOffset.
enum DynamicHeader {
  kIdempotencyKey, kTopic, kPartition, kAttempt, kOffset, kBatchKeys, kDynamicHeaders
};

struct CurlMultiTransport::Transfer {
  CurlEasyPtr easy;
  // The header list, built once per pooled handle and rewritten in place: libcurl only reads
  // it, and curl_slist_append cost two allocations per header on every request. The fixed
  // nodes point into the sink's fixed_headers, the last ones into `dynamic`.
  std::vector<curl_slist> header_nodes;
  std::array<std::string, kDynamicHeaders> dynamic;
  // A transform's headers ("Name: value"), after the dynamic ones; empty for most requests.
  std::vector<std::string> extra;
  std::vector<curl_slist> extra_nodes;
  std::uint64_t token = 0;
  std::uint32_t sink = 0;
  std::string retry_after;
  std::array<char, CURL_ERROR_SIZE> errbuf{};
};

namespace {

void check(CURLMcode rc, const char* what) {
  if (rc != CURLM_OK) throw std::runtime_error(std::string(what) + ": " + curl_multi_strerror(rc));
}

TransportFailure classify(CURLcode rc, std::string_view error) {
  switch (rc) {
    case CURLE_OK:
      return TransportFailure::kNone;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return TransportFailure::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportFailure::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return TransportFailure::kTls;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      // TLS 1.3 finishes the client's handshake before the server checks the client
      // certificate, so a refused one arrives as an alert on the first read.
      return error.find("alert") != std::string_view::npos ? TransportFailure::kTls
                                                           : TransportFailure::kOther;
    default:
      return TransportFailure::kOther;
  }
}

void applyTls(CURL* e, const SinkTlsConfig& tls) {
  // Set even when empty: an explicit choice, not whatever the environment says.
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
  if (!tls.ca_bundle.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, tls.ca_bundle.c_str());
    // Only the bundle: without this libcurl also trusts its built-in CA directory, i.e.
    // every public CA, which is not what naming a private CA means.
    curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);
    // libcurl caches a parsed CA file (a day by default); re-read it every 5 minutes so a
    // renewed bundle takes effect without a restart.
    curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 300L);
  }
  if (!tls.client_certificate.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, tls.client_certificate.c_str());
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY, tls.client_key.c_str());
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    // Always set: with no password libcurl lets OpenSSL prompt on the terminal, which
    // would block the loop; an empty one makes an encrypted key a plain error instead.
    curl_easy_setopt(e, CURLOPT_KEYPASSWD, tls.client_key_password.c_str());
  }
}

void appendNumber(std::string& out, std::int64_t value) {
  std::array<char, 24> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  (void)ec;  // 24 characters hold any int64
  out.append(buf.data(), end);
}

bool startsWithNoCase(const char* data, size_t len, std::string_view prefix) {
  if (len < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(data[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

CurlMultiTransport::CurlMultiTransport(EventLoop& loop, const std::vector<SinkConfig>& sinks,
                                       HttpResponseHandler& handler)
    : loop_(loop), handler_(handler), multi_(curl_multi_init()) {
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  long total_window = 0;
  for (const auto& s : sinks) {
    SinkSlot slot;
    slot.config = s;
    slot.fixed_headers.push_back("Content-Type: " + s.content_type);
    // Without this curl waits for a 100-continue on bodies over 1 KiB: a round trip lost.
    slot.fixed_headers.emplace_back("Expect:");
    for (const auto& [name, value] : s.headers) slot.fixed_headers.push_back(name + ": " + value);
    sinks_.push_back(std::move(slot));
    total_window += static_cast<long>(s.max_in_flight);
  }
  CURLM* m = multi_.get();
  check(curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CurlMultiTransport::onSocket),
        "CURLMOPT_SOCKETFUNCTION");
  check(curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this), "CURLMOPT_SOCKETDATA");
  check(curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CurlMultiTransport::onTimer),
        "CURLMOPT_TIMERFUNCTION");
  check(curl_multi_setopt(m, CURLMOPT_TIMERDATA, this), "CURLMOPT_TIMERDATA");
  check(curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX), "CURLMOPT_PIPELINING");
  // Keep a connection per in-flight slot cached, else HTTP/1.1 keep-alive connections are
  // closed and reopened under load.
  check(curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, total_window + 16), "CURLMOPT_MAXCONNECTS");
}

CurlMultiTransport::~CurlMultiTransport() {
  for (auto& [token, t] : active_) curl_multi_remove_handle(multi_.get(), t->easy.get());
  if (timer_ != 0) loop_.cancel(timer_);
}

std::unique_ptr<CurlMultiTransport::Transfer> CurlMultiTransport::acquire(std::uint32_t sink) {
  auto& slot = sinks_[sink];
  if (!slot.idle.empty()) {
    auto t = std::move(slot.idle.back());
    slot.idle.pop_back();
    ++slot.in_use;
    // Handles pooled while a burst drained go once the window is small again: idle, each
    // keeps its send buffer (64 KiB for a batching sink). Their connections stay cached.
    const std::size_t keep = std::max(kMinIdleHandles, slot.in_use);
    if (slot.idle.size() > keep) slot.idle.resize(keep);
    return t;
  }
  auto t = std::make_unique<Transfer>();
  t->sink = sink;
  t->easy.reset(curl_easy_init());
  if (!t->easy) return nullptr;
  ++slot.in_use;
  CURL* e = t->easy.get();
  const SinkConfig& c = slot.config;
  curl_easy_setopt(e, CURLOPT_URL, c.url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  // An explicit empty proxy stops curl from reading the *_proxy environment on every request.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(c.timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(c.timeout.count()));
  // Sinks answer with a status and a few bytes; libcurl's default 16 KiB receive buffer per
  // pooled handle would cost ~24 MiB across three sinks' default windows.
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
  // libcurl 8 keeps a send buffer per handle (64 KiB by default, 330 pooled handles made
  // 21 MiB); an unbatched request fits the 16 KiB minimum, larger ones go in several writes.
  // Batches keep the default: fewer writes per request.
  if (c.batch_max_events <= 1) curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf.data());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlMultiTransport::onHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlMultiTransport::onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &CurlMultiTransport::onOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &CurlMultiTransport::onCloseSocket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
  t->header_nodes.resize(slot.fixed_headers.size() + kDynamicHeaders);
  for (std::size_t i = 0; i < t->header_nodes.size(); ++i) {
    t->header_nodes[i].data =
        i < slot.fixed_headers.size() ? const_cast<char*>(slot.fixed_headers[i].c_str()) : nullptr;
    t->header_nodes[i].next = i + 1 < t->header_nodes.size() ? &t->header_nodes[i + 1] : nullptr;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->header_nodes.data());
  applyTls(e, c.tls);
  if (c.http2) {
    const bool tls = c.url.rfind("https://", 0) == 0;
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    // Wait for an existing connection to multiplex on instead of opening one per request.
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  }
  return t;
}

void CurlMultiTransport::release(std::unique_ptr<Transfer> t) {
  auto& slot = sinks_[t->sink];
  --slot.in_use;
  // Pooled: about as many handles as are in use (acquire() trims what a burst left).
  if (slot.idle.size() >= std::max(kMinIdleHandles, slot.in_use)) return;
  t->retry_after.clear();
  t->errbuf[0] = '\0';
  slot.idle.push_back(std::move(t));
}

// A sink transform's header replaces the pipeline transform's of the same name (names are
// case-insensitive); curl sends the list as it is.
void CurlMultiTransport::addTransformHeaders(Transfer& t, const HttpRequest& r) {
  t.extra.clear();
  std::vector<std::pair<std::string_view, std::string_view>> merged;
  for (const auto* list : {r.headers, r.more_headers}) {
    if (list == nullptr) continue;
    for (const auto& [name, value] : *list) {
      auto same = std::find_if(merged.begin(), merged.end(), [&](const auto& m) {
        return std::equal(m.first.begin(), m.first.end(), name.begin(), name.end(),
                          [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
      });
      if (same != merged.end()) {
        same->second = value;
      } else {
        merged.emplace_back(name, value);
      }
    }
  }
  for (const auto& [name, value] : merged) {
    t.extra.push_back(std::string(name).append(": ").append(value));
  }
  t.extra_nodes.resize(t.extra.size());
  for (std::size_t i = 0; i < t.extra.size(); ++i) {
    t.extra_nodes[i].data = t.extra[i].data();
    t.extra_nodes[i].next = i + 1 < t.extra.size() ? &t.extra_nodes[i + 1] : nullptr;
  }
}

void CurlMultiTransport::send(std::uint64_t token, const HttpRequest& r) {
  auto t = acquire(r.sink);
  if (!t) {
    HttpResponse failed;
    failed.failure = TransportFailure::kOther;
    failed.error = "curl_easy_init failed";
    handler_.onResponse(token, failed);
    return;
  }
  t->token = token;
  auto& d = t->dynamic;
  // assign/append reuse each string's capacity: no allocation once a handle is warm.
  d[kIdempotencyKey].assign("Idempotency-Key: ").append(r.idempotency_key);
  d[kTopic].assign("Sluice-Source-Topic: ").append(r.topic);
  d[kPartition].assign("Sluice-Source-Partition: ");
  appendNumber(d[kPartition], r.partition);
  d[kAttempt].assign("Sluice-Attempt: ");
  appendNumber(d[kAttempt], r.attempt);
  const bool batch = !r.batch_keys.empty();
  if (batch) {
    d[kOffset].assign("Sluice-Source-Offsets: ").append(r.batch_offsets);
    d[kBatchKeys].assign("Sluice-Idempotency-Keys: ").append(r.batch_keys);
  } else {
    d[kOffset].assign("Sluice-Source-Offset: ");
    appendNumber(d[kOffset], r.offset);
  }
  curl_slist* dynamic_nodes = &t->header_nodes[t->header_nodes.size() - kDynamicHeaders];
  for (std::size_t i = 0; i < kDynamicHeaders; ++i) dynamic_nodes[i].data = d[i].data();
  dynamic_nodes[kOffset].next = batch ? &dynamic_nodes[kBatchKeys] : nullptr;
  dynamic_nodes[kBatchKeys].next = nullptr;
  if (r.headers != nullptr || r.more_headers != nullptr) {
    addTransformHeaders(*t, r);
    if (!t->extra_nodes.empty()) {
      (batch ? dynamic_nodes[kBatchKeys] : dynamic_nodes[kOffset]).next = t->extra_nodes.data();
    }
  }

  CURL* e = t->easy.get();
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  // Not copied: the body is the event's (or the batch's), alive until the response.
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.empty() ? "" : r.body.data());

  const CURLMcode rc = curl_multi_add_handle(multi_.get(), e);
  if (rc != CURLM_OK) {
    HttpResponse failed;
    failed.failure = TransportFailure::kOther;
    failed.error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc);
    release(std::move(t));
    handler_.onResponse(token, failed);
    return;
  }
  active_.emplace(token, std::move(t));
}

void CurlMultiTransport::cancel(std::uint64_t token) {
  auto it = active_.find(token);
  if (it == active_.end()) return;
  curl_multi_remove_handle(multi_.get(), it->second->easy.get());
  auto t = std::move(it->second);
  active_.erase(it);
  release(std::move(t));
}

size_t CurlMultiTransport::onHeader(char* buffer, size_t size, size_t nitems, void* transfer) {
  const size_t len = size * nitems;
  static constexpr std::string_view kRetryAfter = "retry-after:";
  if (startsWithNoCase(buffer, len, kRetryAfter)) {
    auto* t = static_cast<Transfer*>(transfer);
    t->retry_after.assign(buffer + kRetryAfter.size(), len - kRetryAfter.size());
  }
  return len;
}

size_t CurlMultiTransport::onBody(char*, size_t size, size_t nmemb, void*) {
  return size * nmemb;  // sinks' answer bodies carry nothing sluice needs
}

void CurlMultiTransport::collectDone() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* e = msg->easy_handle;
    const CURLcode result = msg->data.result;
    Transfer* raw = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &raw);
    curl_multi_remove_handle(multi_.get(), e);
    if (raw == nullptr) continue;
    auto it = active_.find(raw->token);
    if (it == active_.end()) continue;
    auto t = std::move(it->second);
    active_.erase(it);

    HttpResponse response;
    response.failure = classify(result, t->errbuf.data());
    if (result == CURLE_OK) {
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &response.status);
    } else {
      response.error = t->errbuf[0] != '\0' ? t->errbuf.data() : curl_easy_strerror(result);
    }
    curl_off_t total_us = 0;
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us);
    response.elapsed = std::chrono::microseconds(total_us);
    response.retry_after = std::move(t->retry_after);
    const std::uint64_t token = t->token;
    release(std::move(t));
    // May call send() again (a retry or the next queued delivery): safe, we are outside curl.
    handler_.onResponse(token, response);
  }
}

}  // namespace sluice
