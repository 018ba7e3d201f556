#pragma once

#include <curl/curl.h>

#include <memory>

#include "util/fn_deleter.h"

namespace sluice {

using CurlEasyPtr = std::unique_ptr<CURL, FnDeleter<curl_easy_cleanup>>;
using CurlMultiPtr = std::unique_ptr<CURLM, FnDeleter<curl_multi_cleanup>>;

// curl_global_init is not thread-safe and must precede every other curl call; one instance
// lives in main() for the process's lifetime.
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

}  // namespace sluice
