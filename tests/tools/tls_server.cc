#include "tls_server.h"

#include <openssl/err.h>

#include <stdexcept>

namespace sluice::tools {
namespace {

std::string drainErrors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + drainErrors());
}

}  // namespace

TlsServerContext::TlsServerContext(const std::string& cert_file, const std::string& key_file,
                                   const std::string& client_ca)
    : ctx_(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free) {
  if (!ctx_) fail("SSL_CTX_new");
  SSL_CTX* c = ctx_.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  // A client closing its keep-alive connection without close_notify is normal for HTTP.
  SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes and a moving buffer: the sink erases what was sent from its output string.
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1) fail(cert_file);
  if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1) fail(key_file);
  if (SSL_CTX_check_private_key(c) != 1) fail("certificate and key do not match");
  if (!client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(c, client_ca.c_str(), nullptr) != 1) fail(client_ca);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Clients (libcurl) resume sessions; with client certificates OpenSSL refuses every
    // resumption unless the sessions are tied to a context.
    static constexpr unsigned char kSessionContext[] = "recording_sink";
    SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  }
}

TlsSession::TlsSession(const TlsServerContext& context, int fd)
    : ssl_(SSL_new(context.get()), &SSL_free) {
  if (!ssl_ || SSL_set_fd(ssl_.get(), fd) != 1) {
    error_ = "SSL_new: " + drainErrors();
    ssl_.reset();
    return;
  }
  SSL_set_accept_state(ssl_.get());
}

TlsResult TlsSession::handshake() {
  if (!ssl_) return {TlsIo::kError};
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    established_ = true;
    return {TlsIo::kOk};
  }
  return outcome(rc);
}

TlsResult TlsSession::read(char* buf, std::size_t len) {
  ERR_clear_error();
  std::size_t n = 0;
  if (SSL_read_ex(ssl_.get(), buf, len, &n) == 1) return {TlsIo::kOk, n};
  return outcome(0);
}

TlsResult TlsSession::write(const char* data, std::size_t len) {
  ERR_clear_error();
  std::size_t n = 0;
  if (SSL_write_ex(ssl_.get(), data, len, &n) == 1) return {TlsIo::kOk, n};
  return outcome(0);
}

void TlsSession::sendCloseNotify() {
  if (ssl_ && established_) (void)SSL_shutdown(ssl_.get());
}

TlsResult TlsSession::outcome(int rc) {
  switch (SSL_get_error(ssl_.get(), rc)) {
    case SSL_ERROR_WANT_READ:
      return {TlsIo::kWantRead};
    case SSL_ERROR_WANT_WRITE:
      return {TlsIo::kWantWrite};
    case SSL_ERROR_ZERO_RETURN:
      return {TlsIo::kClosed};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        error_ = "connection closed";
        return {TlsIo::kClosed};
      }
      [[fallthrough]];
    default:
      error_ = drainErrors();
      if (error_.empty()) error_ = "TLS error";
      return {TlsIo::kError};
  }
}

}  // namespace sluice::tools
