#include "config/config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>

#include "config/variables.h"
#include "config/yaml_shape.h"

namespace sluice {
namespace {

std::string joinProblems(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p;
  }
  return out;
}

// Walks a YAML tree, recording every problem with its path instead of stopping at the first,
// so one check-config run tells the user everything to fix.
class Reader {
 public:
  explicit Reader(std::vector<std::string>& problems) : problems_(problems) {}

  void problem(const std::string& path, const std::string& what) {
    problems_.push_back(path + ": " + what);
  }

  // Reports keys of `node` that are not in `known`.
  void rejectUnknown(const YAML::Node& node, const std::string& path,
                     const std::set<std::string>& known) {
    if (!node.IsMap()) return;
    for (const auto& kv : node) {
      const auto key = kv.first.as<std::string>();
      if (!known.contains(key)) problem(join(path, key), "unknown key");
    }
  }

  bool isMap(const YAML::Node& node, const std::string& path) {
    if (node.IsMap()) return true;
    problem(path, "must be a mapping");
    return false;
  }

  void string(const YAML::Node& parent, const std::string& path, const char* key,
              std::string& out, bool required) {
    const YAML::Node n = parent[key];
    if (!n) {
      if (required) problem(join(path, key), "is required");
      return;
    }
    if (!n.IsScalar()) {
      problem(join(path, key), "must be a string");
      return;
    }
    out = n.as<std::string>();
    if (required && out.empty()) problem(join(path, key), "must not be empty");
  }

  template <class Int>
  void integer(const YAML::Node& parent, const std::string& path, const char* key, Int& out,
               long long min, long long max) {
    const YAML::Node n = parent[key];
    if (!n) return;
    long long v = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) {
      problem(join(path, key), "must be an integer");
      return;
    }
    if (v < min || v > max) {
      problem(join(path, key),
              "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return;
    }
    out = static_cast<Int>(v);
  }

  void millis(const YAML::Node& parent, const std::string& path, const char* key,
              std::chrono::milliseconds& out, long long min, long long max) {
    long long v = out.count();
    integer(parent, path, key, v, min, max);
    out = std::chrono::milliseconds(v);
  }

  void number(const YAML::Node& parent, const std::string& path, const char* key, double& out,
              double min, double max) {
    const YAML::Node n = parent[key];
    if (!n) return;
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
      problem(join(path, key), "must be a number");
      return;
    }
    if (v < min || v > max) {
      problem(join(path, key), "must be between " + std::to_string(min) + " and " +
                                   std::to_string(max));
      return;
    }
    out = v;
  }

  void boolean(const YAML::Node& parent, const std::string& path, const char* key, bool& out) {
    const YAML::Node n = parent[key];
    if (!n) return;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, out)) {
      problem(join(path, key), "must be true or false");
    }
  }

  void stringMap(const YAML::Node& parent, const std::string& path, const char* key,
                 std::map<std::string, std::string>& out) {
    const YAML::Node n = parent[key];
    if (!n) return;
    if (!isMap(n, join(path, key))) return;
    for (const auto& kv : n) {
      if (!kv.second.IsScalar()) {
        problem(join(join(path, key), kv.first.as<std::string>()), "must be a string");
        continue;
      }
      out[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
  }

  void statusList(const YAML::Node& parent, const std::string& path, const char* key,
                  std::set<int>& out) {
    const YAML::Node n = parent[key];
    if (!n) return;
    const std::string p = join(path, key);
    if (!n.IsSequence()) {
      problem(p, "must be a list of HTTP status codes");
      return;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      int v = 0;
      if (!n[i].IsScalar() || !YAML::convert<int>::decode(n[i], v) || v < 100 || v > 599) {
        problem(p + "[" + std::to_string(i) + "]", "must be an HTTP status code (100-599)");
        continue;
      }
      out.insert(v);
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  std::vector<std::string>& problems_;
};

void readKafka(Reader& r, const YAML::Node& node, KafkaConfig& k) {
  const std::string path = "kafka";
  if (!node) {
    r.problem(path, "is required");
    return;
  }
  if (!r.isMap(node, path)) return;
  r.rejectUnknown(node, path,
                  {"brokers", "group", "topics", "commit_interval_ms", "drain_budget_ms",
                   "properties"});
  r.string(node, path, "brokers", k.brokers, true);
  r.string(node, path, "group", k.group, true);
  const YAML::Node topics = node["topics"];
  if (!topics) {
    r.problem(path + ".topics", "is required");
  } else if (topics.IsScalar()) {
    k.topics.push_back(topics.as<std::string>());
  } else if (topics.IsSequence()) {
    for (std::size_t i = 0; i < topics.size(); ++i) {
      if (!topics[i].IsScalar() || topics[i].as<std::string>().empty()) {
        r.problem(path + ".topics[" + std::to_string(i) + "]", "must be a topic name");
      } else {
        k.topics.push_back(topics[i].as<std::string>());
      }
    }
    if (topics.size() == 0) r.problem(path + ".topics", "must name at least one topic");
  } else {
    r.problem(path + ".topics", "must be a list of topic names");
  }
  r.millis(node, path, "commit_interval_ms", k.commit_interval, 10, 60'000);
  r.millis(node, path, "drain_budget_ms", k.drain_budget, 0, 600'000);
  r.stringMap(node, path, "properties", k.properties);
  // These are how sluice keeps its delivery guarantee; letting a user override them would
  // silently allow commits past undelivered events.
  // partition.assignment.strategy too: sluice's rebalance handling is cooperative; an eager
  // strategy would make librdkafka refuse every incremental assign.
  for (const char* owned : {"enable.auto.offset.store", "enable.auto.commit",
                            "auto.commit.interval.ms", "group.id", "bootstrap.servers",
                            "enable.partition.eof", "partition.assignment.strategy"}) {
    if (k.properties.contains(owned)) {
      r.problem(path + ".properties." + owned, "is managed by sluice and cannot be set here");
    }
  }
}

void readRetry(Reader& r, const YAML::Node& node, const std::string& path, RetryPolicy& p) {
  if (!node || !r.isMap(node, path)) return;
  r.rejectUnknown(node, path,
                  {"initial_backoff_ms", "max_backoff_ms", "multiplier", "max_attempts",
                   "max_elapsed_ms"});
  r.millis(node, path, "initial_backoff_ms", p.backoff.initial, 1, 3'600'000);
  r.millis(node, path, "max_backoff_ms", p.backoff.max, 1, 3'600'000);
  r.number(node, path, "multiplier", p.backoff.multiplier, 1.0, 100.0);
  r.integer(node, path, "max_attempts", p.max_attempts, 0, 1'000'000);
  r.millis(node, path, "max_elapsed_ms", p.max_elapsed, 0, 30LL * 24 * 3'600'000);
  if (p.backoff.max < p.backoff.initial) {
    r.problem(path + ".max_backoff_ms", "must be >= initial_backoff_ms");
  }
}

// A TLS file is checked at start-up, not at the first connection: a typo in a mounted path
// would otherwise show only as failing deliveries.
// Returns whether the PEM is encrypted (a key that needs a password).
bool checkPemFile(Reader& r, const std::string& key_path, std::string& file,
                  const std::filesystem::path& base, std::string_view expected_label) {
  // PEM text here means "KEY_file: PATH" put a file's content where a path belongs; never
  // echo it, it may be a private key.
  if (file.find('\n') != std::string::npos || file.find("-----BEGIN") != std::string::npos) {
    r.problem(key_path, "expects a file path, not PEM content (write the path without _file)");
    file.clear();
    return false;
  }
  std::filesystem::path p(file);
  if (p.is_relative()) p = base / p;
  file = p.lexically_normal().string();
  std::error_code ec;
  std::ifstream in(p, std::ios::binary);
  if (!std::filesystem::is_regular_file(p, ec) || !in) {
    r.problem(key_path, "cannot read " + file);
    return false;
  }
  std::string head(64 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  // Labels: "CERTIFICATE", or "PRIVATE KEY" inside "RSA/EC/ENCRYPTED PRIVATE KEY".
  std::size_t at = 0;
  while ((at = head.find("-----BEGIN ", at)) != std::string::npos) {
    at += 11;
    const std::size_t end = head.find("-----", at);
    if (end == std::string::npos) break;
    const std::string_view label = std::string_view(head).substr(at, end - at);
    if (label.ends_with(expected_label)) {
      // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional key with a Proc-Type header.
      return label.starts_with("ENCRYPTED ") ||
             head.find("Proc-Type: 4,ENCRYPTED", end) != std::string::npos;
    }
  }
  r.problem(key_path, file + " holds no PEM " + std::string(expected_label));
  return false;
}

void readSinkTls(Reader& r, const YAML::Node& node, const std::string& path, SinkConfig& s,
                 const std::filesystem::path& base) {
  if (!node || !r.isMap(node, path)) return;
  r.rejectUnknown(node, path,
                  {"ca_bundle", "client_certificate", "client_key", "client_key_password",
                   "verify"});
  SinkTlsConfig& t = s.tls;
  r.string(node, path, "ca_bundle", t.ca_bundle, false);
  r.string(node, path, "client_certificate", t.client_certificate, false);
  r.string(node, path, "client_key", t.client_key, false);
  r.string(node, path, "client_key_password", t.client_key_password, false);
  r.boolean(node, path, "verify", t.verify);
  if (s.url.rfind("http://", 0) == 0) {
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
                  {"name", "url", "timeout_ms", "max_in_flight", "http2", "content_type",
                   "headers", "retry", "statuses", "ordering", "circuit_failures", "tls",
                   "batch"});
  r.string(node, path, "name", s.name, true);
  r.string(node, path, "url", s.url, true);
  if (!s.url.empty() && s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0) {
    r.problem(path + ".url", "must start with http:// or https://");
  }
  r.millis(node, path, "timeout_ms", s.timeout, 1, 3'600'000);
  r.integer(node, path, "max_in_flight", s.max_in_flight, 1, 65'536);
  r.boolean(node, path, "http2", s.http2);
  // libcurl before 8.0 fails every request after the first on a reused h2c (prior
  // knowledge) connection: seen here with 7.88.1 against both nghttpd and nginx, with the
  // curl command line too. A sink configured that way would never accept another event.
  const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
  if (s.http2 && s.url.rfind("http://", 0) == 0 && curl->version_num < 0x080000) {
    r.problem(path + ".http2",
              std::string("HTTP/2 over cleartext (h2c) needs libcurl 8.0 or newer; this build "
                          "has ") +
                  curl->version + " (use https:// for HTTP/2, or http2: false)");
  }
  r.string(node, path, "content_type", s.content_type, false);
  r.stringMap(node, path, "headers", s.headers);
  readRetry(r, node["retry"], path + ".retry", s.retry);
  if (const YAML::Node st = node["statuses"]; st && r.isMap(st, path + ".statuses")) {
    const std::string sp = path + ".statuses";
    r.rejectUnknown(st, sp, {"success", "retryable", "permanent"});
    r.statusList(st, sp, "success", s.statuses.success);
    r.statusList(st, sp, "retryable", s.statuses.retryable);
    r.statusList(st, sp, "permanent", s.statuses.permanent);
  }
  std::string ordering = "unordered";
  r.string(node, path, "ordering", ordering, false);
  if (ordering == "unordered") {
    s.ordering = Ordering::kUnordered;
  } else if (ordering == "key") {
    s.ordering = Ordering::kKey;
  } else if (ordering == "partition") {
    s.ordering = Ordering::kPartition;
  } else {
    r.problem(path + ".ordering", "must be one of unordered, key, partition");
  }
  r.integer(node, path, "circuit_failures", s.circuit_failures, 1, 1'000'000);
  readSinkTls(r, node["tls"], path + ".tls", s, base);
  if (const YAML::Node b = node["batch"]; b && r.isMap(b, path + ".batch")) {
    r.rejectUnknown(b, path + ".batch", {"max_events", "max_bytes"});
    r.integer(b, path + ".batch", "max_events", s.batch_max_events, 1, 10'000);
    r.integer(b, path + ".batch", "max_bytes", s.batch_max_bytes, 1, 64LL << 20);
    if (s.batch_max_events > 1 && s.ordering != Ordering::kUnordered) {
      r.problem(path + ".batch", "needs ordering: unordered (a batch is retried as a whole)");
    }
  }
  for (const auto& [name, value] : s.headers) {
    (void)value;
    std::string lower;
    for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lower == "idempotency-key" || lower == "content-length" || lower.rfind("sluice-", 0) == 0) {
      r.problem(path + ".headers." + name, "is set by sluice on every request");
    }
  }
}

void readDelivery(Reader& r, const YAML::Node& node, Config& c) {
  const std::string path = "delivery";
  if (!node) return;
  if (!r.isMap(node, path)) return;
  r.rejectUnknown(node, path,
                  {"max_in_flight_events", "max_in_flight_bytes", "partition_max_in_flight_events",
                   "partition_max_in_flight_bytes", "partition_max_uncommitted", "retry",
                   "idempotency_key"});
  BackpressureConfig& b = c.backpressure;
  r.integer(node, path, "max_in_flight_events", b.max_events, 1, 10'000'000);
  r.integer(node, path, "max_in_flight_bytes", b.max_bytes, 1024, 1LL << 40);
  r.integer(node, path, "partition_max_in_flight_events", b.partition_max_events, 1, 10'000'000);
  r.integer(node, path, "partition_max_in_flight_bytes", b.partition_max_bytes, 1024, 1LL << 40);
  r.integer(node, path, "partition_max_uncommitted", b.partition_max_uncommitted, 2, 100'000'000);
  readRetry(r, node["retry"], path + ".retry", c.retry);
  if (const YAML::Node key = node["idempotency_key"];
      key && r.isMap(key, path + ".idempotency_key")) {
    const std::string kp = path + ".idempotency_key";
    r.rejectUnknown(key, kp, {"from", "json_pointer", "header"});
    std::string from = "coordinates";
    r.string(key, kp, "from", from, false);
    if (from == "coordinates") {
      c.idempotency.source = KeySource::kCoordinates;
    } else if (from == "json_pointer") {
      c.idempotency.source = KeySource::kJsonPointer;
      r.string(key, kp, "json_pointer", c.idempotency.json_pointer, true);
      if (!c.idempotency.json_pointer.empty() && c.idempotency.json_pointer[0] != '/') {
        r.problem(kp + ".json_pointer", "must be an RFC 6901 pointer starting with '/'");
      }
    } else if (from == "header") {
      c.idempotency.source = KeySource::kHeader;
      r.string(key, kp, "header", c.idempotency.header, true);
    } else {
      r.problem(kp + ".from", "must be one of coordinates, json_pointer, header");
    }
  }
}

void readDeadLetter(Reader& r, const YAML::Node& node, DeadLetterConfig& d) {
  const std::string path = "dead_letter";
  if (!node || !r.isMap(node, path)) return;
  r.rejectUnknown(node, path, {"topic", "properties"});
  r.string(node, path, "topic", d.topic, true);
  r.stringMap(node, path, "properties", d.properties);
  // The guarantee needs every dead letter acknowledged by all in-sync replicas, written once.
  for (const char* owned : {"acks", "enable.idempotence", "bootstrap.servers"}) {
    if (d.properties.contains(owned)) {
      r.problem(path + ".properties." + owned, "is managed by sluice and cannot be set here");
    }
  }
}

void readValidation(Reader& r, const YAML::Node& node, ValidationConfig& v,
                    const std::string& origin) {
  const std::string path = "validation";
  if (!node || !r.isMap(node, path)) return;
  r.rejectUnknown(node, path, {"json", "max_bytes", "max_depth", "schema"});
  r.boolean(node, path, "json", v.json);
  r.integer(node, path, "max_bytes", v.max_bytes, 1, 1LL << 30);
  r.integer(node, path, "max_depth", v.max_depth, 1, 10'000);
  r.string(node, path, "schema", v.schema, false);
  if (v.schema.empty()) v.schema = "none";
  if (v.schema != "default" && v.schema != "none") {
    if (!v.json) r.problem(path + ".schema", "needs validation.json: true");
    std::filesystem::path p(v.schema);
    if (p.is_relative()) p = std::filesystem::path(origin).parent_path() / p;
    v.schema = p.lexically_normal().string();
    std::error_code ec;  // the throwing form aborts on a symlink loop or an over-long name
    if (!std::filesystem::is_regular_file(p, ec)) {
      r.problem(path + ".schema", "no such file: " + v.schema);
    }
  }
}

// The status server binds an IPv4 address (0: any free port, for tests).
bool validListenAddress(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  in_addr addr{};
  if (::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr) != 1) return false;
  const std::string port = listen.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value <= 65535;
}

std::optional<std::string> readSecretFile(const std::filesystem::path& file, const std::string& path,
                                          std::vector<std::string>& problems) {
  std::ifstream in(file);
  if (!in) {
    problems.push_back(path + ": cannot read " + file.string());
    return std::nullopt;
  }
  std::stringstream s;
  s << in.rdbuf();
  std::string value = s.str();
  // Files written by editors and `echo` end in a newline that is not part of the secret.
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return value;
}

// Expands variables in every scalar and turns every "KEY_file: PATH" into "KEY: <file
// content>", so secrets can come from the environment or from mounted files (Kubernetes
// Secrets) instead of the config itself.
void resolveValues(YAML::Node node, const std::string& path, const std::filesystem::path& base,
                   std::vector<std::string>& problems) {
  auto join = [&path](const std::string& key) { return path.empty() ? key : path + "." + key; };
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      YAML::Node item = node[i];
      const std::string p = path + "[" + std::to_string(i) + "]";
      if (item.IsScalar()) {
        item = expandVariables(item.Scalar(), p, problems, environmentVariable);
      } else {
        resolveValues(item, p, base, problems);
      }
    }
    return;
  }
  if (!node.IsMap()) return;
  std::vector<std::pair<std::string, std::string>> from_files;  // key, file path
  for (auto kv : node) {
    const std::string key = kv.first.as<std::string>();
    YAML::Node value = kv.second;
    if (value.IsScalar()) {
      value = expandVariables(value.Scalar(), join(key), problems, environmentVariable);
      constexpr std::string_view kSuffix = "_file";
      if (key.size() > kSuffix.size() && key.ends_with(kSuffix)) {
        from_files.emplace_back(key, value.Scalar());
      }
    } else {
      resolveValues(value, join(key), base, problems);
    }
  }
  for (const auto& [key, file] : from_files) {
    const std::string target = key.substr(0, key.size() - 5);
    if (node[target]) {
      problems.push_back(join(key) + ": both " + target + " and " + key + " are set");
      continue;
    }
    std::filesystem::path p(file);
    if (p.is_relative()) p = base / p;
    if (auto secret = readSecretFile(p, join(key), problems)) {
      node.remove(key);
      node[target] = *secret;
    }
  }
}

Config parseTree(const YAML::Node& root, const std::string& origin);

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(joinProblems(problems)), problems_(std::move(problems)) {}

Config parseConfig(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError({origin + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": " + e.msg});
  }
  if (!root.IsMap()) throw ConfigError({origin + ": the top level must be a mapping"});
  std::vector<std::string> problems;
  checkYamlShape(root, problems);
  if (!problems.empty()) {
    for (auto& p : problems) p = origin + ": " + p;
    throw ConfigError(std::move(problems));
  }
  try {
    return parseTree(root, origin);
  } catch (const YAML::Exception& e) {
    // A YAML shape the readers did not foresee: still a config problem, never a crash.
    throw ConfigError({origin + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

namespace {

Config parseTree(const YAML::Node& root_in, const std::string& origin) {
  YAML::Node root = root_in;
  std::vector<std::string> problems;
  Reader r(problems);
  Config c;
  resolveValues(root, "", std::filesystem::path(origin).parent_path(), problems);
  r.rejectUnknown(root, "", {"kafka", "sinks", "delivery", "dead_letter", "validation",
                             "shutdown_grace_ms", "stats_interval_ms", "log_level", "log_format",
                             "metrics"});
  readKafka(r, root["kafka"], c.kafka);
  readDelivery(r, root["delivery"], c);  // before the sinks: it holds their retry default
  readDeadLetter(r, root["dead_letter"], c.dead_letter);
  readValidation(r, root["validation"], c.validation, origin);
  if (const YAML::Node m = root["metrics"]; m && r.isMap(m, "metrics")) {
    r.rejectUnknown(m, "metrics", {"listen", "ready_without_partitions"});
    r.string(m, "metrics", "listen", c.metrics.listen, false);
    r.boolean(m, "metrics", "ready_without_partitions", c.metrics.ready_without_partitions);
    if (!c.metrics.listen.empty() && !validListenAddress(c.metrics.listen)) {
      r.problem("metrics.listen",
                "must be IPV4:PORT with a port of 0..65535, e.g. 0.0.0.0:9464 (got '" +
                    c.metrics.listen + "')");
    }
  }

  const YAML::Node sinks = root["sinks"];
  if (!sinks) {
    r.problem("sinks", "is required");
  } else if (!sinks.IsSequence() || sinks.size() == 0) {
    r.problem("sinks", "must be a non-empty list of {name, url}");
  } else {
    std::set<std::string> names;
    for (std::size_t i = 0; i < sinks.size(); ++i) {
      const std::string path = "sinks[" + std::to_string(i) + "]";
      SinkConfig s;
      s.retry = c.retry;
      readSink(r, sinks[i], path, s, std::filesystem::path(origin).parent_path());
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
  r.millis(root, "", "shutdown_grace_ms", c.shutdown_grace, 0, 3'600'000);
  r.millis(root, "", "stats_interval_ms", c.stats_interval, 0, 3'600'000);
  r.string(root, "", "log_level", c.log_level, false);
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(c.log_level)) r.problem("log_level", "must be one of trace, debug, info, warn, error");
  r.string(root, "", "log_format", c.log_format, false);
  if (c.log_format != "text" && c.log_format != "json") {
    r.problem("log_format", "must be text or json");
  }

  if (!problems.empty()) {
    for (auto& p : problems) p = origin + ": " + p;
    throw ConfigError(std::move(problems));
  }
  return c;
}

}  // namespace

Config loadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError({path + ": cannot open the config file"});
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

}  // namespace sluice
