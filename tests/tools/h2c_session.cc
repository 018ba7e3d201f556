#include "h2c_session.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace sluice::tools {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Enough streams that a client's whole window of requests fits on one connection, and flow
// control windows that do not make a client wait for WINDOW_UPDATEs on batched bodies.
constexpr uint32_t kMaxConcurrentStreams = 1024;
constexpr int32_t kWindowBytes = 16 << 20;

H2cSession& of(void* self) { return *static_cast<H2cSession*>(self); }

}  // namespace

bool H2cSession::startsWithPreface(std::string_view first_bytes) {
  const size_t n = std::min(first_bytes.size(), kPreface.size());
  return n >= 4 && first_bytes.substr(0, n) == kPreface.substr(0, n);
}

H2cSession::H2cSession(Handler& handler) : handler_(handler) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) throw std::runtime_error("nghttp2 callbacks");
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &onHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &onDataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &onFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &onStreamClosed);
  const int rv = nghttp2_session_server_new(&session_, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) throw std::runtime_error("nghttp2 session");
  const std::array<nghttp2_settings_entry, 2> settings = {
      {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kWindowBytes)}}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  // The connection's own window is not a setting: it grows with a WINDOW_UPDATE.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kWindowBytes);
}

H2cSession::~H2cSession() { nghttp2_session_del(session_); }

bool H2cSession::feed(const char* data, size_t len) {
  const ssize_t used =
      nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), len);
  return used >= 0 && static_cast<size_t>(used) == len;
}

bool H2cSession::respond(int32_t stream, int status, int retry_after) {
  const std::string code = std::to_string(status);
  const std::string retry = std::to_string(retry_after);
  auto pair = [](std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  std::array<nghttp2_nv, 2> headers = {pair(":status", code), pair("retry-after", retry)};
  // No data provider: the HEADERS frame carries END_STREAM, an empty body.
  return nghttp2_submit_response(session_, stream, headers.data(), retry_after >= 0 ? 2 : 1,
                                 nullptr) == 0;
}

bool H2cSession::takeOutput(std::string& out) {
  for (;;) {
    const uint8_t* chunk = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &chunk);
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(reinterpret_cast<const char*>(chunk), static_cast<size_t>(n));
  }
}

bool H2cSession::finished() const {
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

int H2cSession::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    of(self).handler_.onStreamBegin(frame->hd.stream_id);
  }
  return 0;
}

int H2cSession::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                         size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                         void* self) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    of(self).handler_.onStreamHeader(
        frame->hd.stream_id, std::string_view(reinterpret_cast<const char*>(name), namelen),
        std::string_view(reinterpret_cast<const char*>(value), valuelen));
  }
  return 0;
}

int H2cSession::onDataChunk(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data,
                            size_t len, void* self) {
  of(self).handler_.onStreamData(stream, reinterpret_cast<const char*>(data), len);
  return 0;
}

int H2cSession::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  const bool request_frame = frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS;
  if (request_frame && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    of(self).handler_.onStreamRequest(frame->hd.stream_id);
  }
  return 0;
}

int H2cSession::onStreamClosed(nghttp2_session*, int32_t stream, uint32_t, void* self) {
  of(self).handler_.onStreamClose(stream);
  return 0;
}

}  // namespace sluice::tools
