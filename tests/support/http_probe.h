#pragma once

// Plain blocking HTTP/1.1 GETs against sluice's status port, for tests only.
#include <string>

namespace sluice::testing {

// A loopback port that was free a moment ago (bind to 0, read it, close).
int freePort();

struct HttpAnswer {
  int status = 0;  // 0: no answer (connection refused)
  std::string body;
};

// One request on a fresh connection to 127.0.0.1:port, read until the server closes; the body
// is what Content-Length says it is, as for any HTTP client.
HttpAnswer request(int port, const std::string& method, const std::string& path);

// The value of one series ("name{labels}") in a Prometheus exposition, -1 when absent.
double valueOf(const std::string& exposition, const std::string& series);

}  // namespace sluice::testing
