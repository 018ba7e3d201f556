// h2c_session: the server side of one HTTP/2 cleartext connection (prior knowledge), for
// recording_sink. nghttp2 parses and frames; this class turns its callbacks into a few stream
// events and collects what is to be written back. It never touches the socket.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::tools {

class H2cSession {
 public:
  // What the connection's owner hears of each stream (a request).
  class Handler {
   public:
    virtual void onStreamBegin(int32_t stream) = 0;
    virtual void onStreamHeader(int32_t stream, std::string_view name, std::string_view value) = 0;
    virtual void onStreamData(int32_t stream, const char* data, size_t len) = 0;
    // The request is complete (END_STREAM): answer it with respond(), now or later.
    virtual void onStreamRequest(int32_t stream) = 0;
    // The stream is gone (answered, reset or the connection closing).
    virtual void onStreamClose(int32_t stream) = 0;

   protected:
    ~Handler() = default;
  };

  // True if a connection's first bytes are the HTTP/2 client preface ("PRI * HTTP/2.0...").
  static bool startsWithPreface(std::string_view first_bytes);

  explicit H2cSession(Handler& handler);
  ~H2cSession();
  H2cSession(const H2cSession&) = delete;
  H2cSession& operator=(const H2cSession&) = delete;

  // Feeds bytes read from the socket; false on a protocol error (close the connection).
  bool feed(const char* data, size_t len);
  // Answers a stream with an empty body; retry_after < 0 sends no Retry-After. False if
  // nghttp2 refused (the stream is gone): nothing will be sent.
  bool respond(int32_t stream, int status, int retry_after);
  // Appends the frames ready to be written to `out`; false on a fatal session error.
  bool takeOutput(std::string& out);
  // Both sides are done (GOAWAY exchanged, or an error): close once the output is written.
  bool finished() const;

 private:
  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* self);
  static int onDataChunk(nghttp2_session*, uint8_t flags, int32_t stream, const uint8_t* data,
                         size_t len, void* self);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int onStreamClosed(nghttp2_session*, int32_t stream, uint32_t error_code, void* self);

  Handler& handler_;
  nghttp2_session* session_ = nullptr;
};

}  // namespace sluice::tools
