#include <curl/curl.h>

#include <cctype>
#include <set>
#include <utility>

#include "config/file_checks.h"
#include "config/section_readers.h"

namespace sluice::config_detail {
namespace {

// libcurl before 8.0 fails every request after the first on a reused h2c (prior
// knowledge) connection: seen here with 7.88.1 against both nghttpd and nginx, with the
// curl command line too. A sink configured that way would never accept another event.
void checkH2cSupport(Reader& r, const std::string& path, const SinkConfig& s) {
  const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
  if (s.http2 && s.url.starts_with("http://") && curl->version_num < 0x080000) {
    r.problem(path + ".http2",
              std::string("HTTP/2 over cleartext (h2c) needs libcurl 8.0 or newer; this build "
                          "has ") +
                  curl->version + " (use https:// for HTTP/2, or http2: false)");
  }
}

void readStatuses(Reader& r, const YAML::Node& node, const std::string& path, StatusClasses& s) {
  if (!r.optionalMap(node, path, {"success", "retryable", "permanent"})) return;
  r.statusList(node, path, "success", s.success);
  r.statusList(node, path, "retryable", s.retryable);
  r.statusList(node, path, "permanent", s.permanent);
}

void readOrdering(Reader& r, const YAML::Node& node, const std::string& path, Ordering& out) {
  std::string ordering = "unordered";
  r.string(node, path, "ordering", ordering, false);
  if (ordering == "unordered") {
    out = Ordering::kUnordered;
  } else if (ordering == "key") {
    out = Ordering::kKey;
  } else if (ordering == "partition") {
    out = Ordering::kPartition;
  } else {
    r.problem(path + ".ordering", "must be one of unordered, key, partition");
  }
}

void readBatch(Reader& r, const YAML::Node& node, const std::string& path, SinkConfig& s) {
  if (!r.optionalMap(node, path, {"max_events", "max_bytes"})) return;
  r.integer(node, path, "max_events", s.batch_max_events, 1, 10'000);
  r.integer(node, path, "max_bytes", s.batch_max_bytes, 1, 64LL << 20);
  if (s.batch_max_events > 1 && s.ordering != Ordering::kUnordered) {
    r.problem(path, "needs ordering: unordered (a batch is retried as a whole)");
  }
}

void rejectReservedHeaders(Reader& r, const std::string& path, const SinkConfig& s) {
  for (const auto& [name, value] : s.headers) {
    (void)value;
    std::string lower;
    for (char c : name) {
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (lower == "idempotency-key" || lower == "content-length" || lower.starts_with("sluice-")) {
      r.problem(path + ".headers." + name, "is set by sluice on every request");
    }
  }
}

void readSinkTls(Reader& r, const YAML::Node& node, const std::string& path, SinkConfig& s,
                 const std::filesystem::path& base) {
  if (!r.optionalMap(node, path,
                     {"ca_bundle", "client_certificate", "client_key", "client_key_password",
                      "verify"})) {
    return;
  }
  SinkTlsConfig& t = s.tls;
  r.string(node, path, "ca_bundle", t.ca_bundle, false);
  r.string(node, path, "client_certificate", t.client_certificate, false);
  r.string(node, path, "client_key", t.client_key, false);
  r.string(node, path, "client_key_password", t.client_key_password, false);
  r.boolean(node, path, "verify", t.verify);
  if (s.url.starts_with("http://")) {
    r.problem(path, "the url is http://; TLS settings need an https:// url");
  }
  if (!t.ca_bundle.empty()) checkPemFile(r, path + ".ca_bundle", t.ca_bundle, base, "CERTIFICATE");
  if (!t.client_certificate.empty()) {
    checkPemFile(r, path + ".client_certificate", t.client_certificate, base, "CERTIFICATE");
  }
  if (!t.client_key.empty() &&
      checkPemFile(r, path + ".client_key", t.client_key, base, "PRIVATE KEY") &&
      t.client_key_password.empty()) {
    // Without a password libcurl leaves OpenSSL to ask for one on the terminal, which
    // would block the event loop at every new connection.
    r.problem(path + ".client_key", t.client_key + " is encrypted; set client_key_password "
                                    "(or client_key_password_file)");
  }
  if (t.client_certificate.empty() != t.client_key.empty()) {
    r.problem(path, "client_certificate and client_key go together (mutual TLS)");
  }
  if (!t.client_key_password.empty() && t.client_key.empty()) {
    r.problem(path + ".client_key_password", "is set but client_key is not");
  }
}

void readSink(Reader& r, const YAML::Node& node, const std::string& path, SinkConfig& s,
              const std::filesystem::path& base) {
  if (!r.isMap(node, path)) return;
  r.rejectUnknown(node, path,
                  {"name", "url", "timeout_ms", "max_in_flight", "concurrency", "http2",
                   "content_type",
                   "headers", "retry", "statuses", "ordering", "circuit_failures", "tls",
                   "batch", "transform"});
  r.string(node, path, "name", s.name, true);
  r.string(node, path, "url", s.url, true);
  if (!s.url.empty() && !s.url.starts_with("http://") && !s.url.starts_with("https://")) {
    r.problem(path + ".url", "must start with http:// or https://");
  }
  r.millis(node, path, "timeout_ms", s.timeout, 1, 3'600'000);
  r.integer(node, path, "max_in_flight", s.max_in_flight, 1, 65'536);
  std::string concurrency = s.adaptive_concurrency ? "adaptive" : "fixed";
  r.string(node, path, "concurrency", concurrency, false);
  if (concurrency != "adaptive" && concurrency != "fixed") {
    r.problem(path + ".concurrency", "must be adaptive or fixed, not '" + concurrency + "'");
  }
  s.adaptive_concurrency = concurrency == "adaptive";
  r.boolean(node, path, "http2", s.http2);
  checkH2cSupport(r, path, s);
  r.string(node, path, "content_type", s.content_type, false);
  r.stringMap(node, path, "headers", s.headers);
  readRetry(r, node["retry"], path + ".retry", s.retry);
  readStatuses(r, node["statuses"], path + ".statuses", s.statuses);
  readOrdering(r, node, path, s.ordering);
  r.integer(node, path, "circuit_failures", s.circuit_failures, 1, 1'000'000);
  readSinkTls(r, node["tls"], path + ".tls", s, base);
  readBatch(r, node["batch"], path + ".batch", s);
  readTransform(r, node["transform"], path + ".transform", s.transform, base);
  rejectReservedHeaders(r, path, s);
}

}  // namespace

void readSinks(Reader& r, const YAML::Node& node, Config& c, const std::filesystem::path& base) {
  if (!node) {
    r.problem("sinks", "is required");
    return;
  }
  if (!node.IsSequence() || node.size() == 0) {
    r.problem("sinks", "must be a non-empty list of {name, url}");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string path = "sinks[" + std::to_string(i) + "]";
    SinkConfig s;
    s.retry = c.retry;
    readSink(r, node[i], path, s, base);
    if (s.retry.limited() && !c.dead_letter.enabled()) {
      r.problem(path + ".retry", "max_attempts/max_elapsed_ms need dead_letter.topic: an "
                                 "event out of attempts has nowhere else to go");
    }
    if (!s.name.empty() && !names.insert(s.name).second) {
      r.problem(path + ".name", "'" + s.name + "' is used by another sink");
    }
    if (s.batch_max_events > 1 && !c.validation.json) {
      r.problem(path + ".batch", "needs validation.json: true (a batch is a JSON array of the "
                                 "events, so each must be JSON)");
    }
    c.sinks.push_back(std::move(s));
  }
}

}  // namespace sluice::config_detail
