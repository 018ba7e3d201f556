#pragma once

// Server-side TLS for the recording sink: one context per process, one session per accepted
// connection, all non-blocking so the sink's epoll loop drives the handshake like any read.
#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

namespace sluice::tools {

enum class TlsIo {
  kOk,         // bytes moved (or the handshake finished)
  kWantRead,   // wait for the socket to be readable, then call again
  kWantWrite,  // wait for the socket to be writable, then call again
  kClosed,     // the peer sent close_notify or closed the socket
  kError,      // failed; error() says why
};

struct TlsResult {
  TlsIo status = TlsIo::kOk;
  std::size_t bytes = 0;
};

class TlsServerContext {
 public:
  // `client_ca` empty: no client certificate asked for; otherwise one signed by it is
  // required (mutual TLS). Throws std::runtime_error with OpenSSL's reason.
  TlsServerContext(const std::string& cert_file, const std::string& key_file,
                   const std::string& client_ca);
  SSL_CTX* get() const { return ctx_.get(); }

 private:
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_;
};

class TlsSession {
 public:
  TlsSession(const TlsServerContext& context, int fd);

  bool established() const { return established_; }
  TlsResult handshake();
  TlsResult read(char* buf, std::size_t len);
  TlsResult write(const char* data, std::size_t len);
  // Decrypted bytes already buffered: epoll will not report them.
  bool pending() const { return SSL_pending(ssl_.get()) > 0; }
  void sendCloseNotify();
  const std::string& error() const { return error_; }

 private:
  TlsResult outcome(int rc);

  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
  bool established_ = false;
  std::string error_;
};

}  // namespace sluice::tools
