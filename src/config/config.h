#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>


namespace sluice {

enum class Ordering {
  kUnordered,  // most concurrency
  kKey,        // events with the same Kafka key reach the sink in offset order
  kPartition,  // one event at a time per partition, in offset order
};

struct BackoffSettings {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{10'000};
  double multiplier = 2.0;
};

struct RetryPolicy {
  BackoffSettings backoff;
  std::uint32_t max_attempts = 0;          // 0: unlimited
  std::chrono::milliseconds max_elapsed{0};  // since the first attempt; 0: unlimited
  bool limited() const { return max_attempts > 0 || max_elapsed.count() > 0; }
};

// HTTPS settings of one sink. libcurl reads the client certificate and key each time it
// opens a connection and the CA bundle at least every 5 minutes, so material renewed in
// place (a re-mounted Kubernetes Secret) is used without a restart.
struct SinkTlsConfig {
  std::string ca_bundle;            // PEM CA certificates; empty: the system store
  std::string client_certificate;   // PEM, presented for mutual TLS; needs client_key
  std::string client_key;           // PEM private key of client_certificate
  std::string client_key_password;  // for an encrypted client_key
  bool verify = true;               // peer certificate and host name; false only for tests
};

// HTTP statuses a sink moves between the classes (delivery/status_policy.h has the defaults
// and the rules), e.g. a sink that answers a duplicate key with 409 lists 409 as success.
struct StatusClasses {
  std::set<int> success;    // accepted in addition to 2xx
  std::set<int> retryable;  // retried in addition to the defaults
  std::set<int> permanent;  // permanent even where the defaults would retry
};

// A WebAssembly transform (proto/transform.md): the pipeline's (`transform`) or one sink's
// (`sinks[].transform`).
struct TransformConfig {
  std::string module;       // path of the .wasm file (relative to the config file)
  std::string config_json;  // `config`, as JSON text, for the module's sluice_init
  std::uint64_t fuel = 0;   // per event; 0: no fuel limit
  std::chrono::milliseconds time{1000};     // per event; 0: no time limit
  std::uint64_t memory_bytes = 64ull << 20;  // the instance's linear memory
  std::uint32_t workers = 0;  // threads of the pool; 0: the online cores
};

struct SinkConfig {
  std::string name;
  std::string url;
  std::chrono::milliseconds timeout{5000};
  // Each in-flight HTTP/1.1 request holds a connection. 512 leaves room for 1% of requests
  // taking 2 s at several thousand events/s without the window becoming the limit.
  std::uint32_t max_in_flight = 512;
  // Adaptive: the window of requests in flight follows what the sink sustains, up to
  // max_in_flight (delivery/concurrency_limit.h); fixed: always max_in_flight.
  bool adaptive_concurrency = true;
  bool http2 = false;  // h2c with prior knowledge for http://, ALPN for https://
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
  RetryPolicy retry;  // defaults to delivery.retry
  StatusClasses statuses;
  Ordering ordering = Ordering::kUnordered;
  std::uint32_t circuit_failures = 5;  // consecutive failures before probing one at a time
  // More than one: up to this many queued events of one partition go in one request, as a
  // JSON array (see proto/sink.openapi.yaml). Batches form only from what is already
  // waiting, so a sink that keeps up still gets events one by one, without added latency.
  std::uint32_t batch_max_events = 1;
  std::uint64_t batch_max_bytes = 1 << 20;  // of event bodies in one batch
  SinkTlsConfig tls;
  std::optional<TransformConfig> transform;  // this sink's shape of each event
};

struct DeadLetterConfig {
  std::string topic;  // empty: no dead-letter topic; such events hold their partition's commit
  std::map<std::string, std::string> properties;  // librdkafka producer properties
  bool enabled() const { return !topic.empty(); }
};

struct ValidationConfig {
  bool json = true;                      // events must parse as JSON
  std::size_t max_bytes = 1024 * 1024;   // larger events are invalid
  // Deeper nesting is invalid: deep enough for any real event, shallow enough that what a
  // schema validator keeps per level stays small (and that sinks' parsers cope).
  unsigned max_depth = 128;
  // "default": the schema built in from proto/event.schema.json; "none"; or a file path
  // (relative paths are relative to the config file).
  std::string schema = "default";
};

struct MetricsConfig {
  std::string listen;  // "HOST:PORT" for /metrics, /healthz, /readyz; empty: off
  bool ready_without_partitions = false;  // /readyz says ready once joined, even with none
};

struct BackpressureConfig {
  std::uint32_t max_events = 10'000;               // in flight, all partitions
  std::uint64_t max_bytes = 64ull << 20;
  std::uint32_t partition_max_events = 5'000;      // in flight, one partition
  std::uint64_t partition_max_bytes = 32ull << 20;
  std::uint32_t partition_max_uncommitted = 100'000;  // dispatched past the commit point
};

enum class KeySource { kCoordinates, kJsonPointer, kHeader };

struct IdempotencyConfig {
  KeySource source = KeySource::kCoordinates;
  std::string json_pointer;  // with kJsonPointer
  std::string header;        // with kHeader
};

struct KafkaConfig {
  std::string brokers;
  std::string group;
  std::vector<std::string> topics;
  std::chrono::milliseconds commit_interval{200};
  std::map<std::string, std::string> properties;   // passed to librdkafka as they are
  // librdkafka's prefetch (queued.max.messages.kbytes) unless `properties` sets it. Over it,
  // librdkafka 2.0.2 stops fetching until its broker thread next wakes (up to ~1 s), so the
  // queue must hold that long's worth. At 4 MiB one request per event starved for events
  // (7.0k events/s with the loop 30% idle; 8 MiB: 9.0k, peak RSS +3-9 MiB); a sink batching
  // 1 KiB events went from 7k to 22k events/s at 16 MiB. Set from the sinks: 16 MiB if any
  // batches.
  std::uint32_t prefetch_kbytes = 8192;
  // And at most this many messages (queued.min.messages, librdkafka's "minimum" that it
  // fetches up to): time is what the queue must cover, and sluice's rate is per event, so
  // 300 B events need no 28k of them queued (throughput_bench 100k x 300 B: 8 MiB alone
  // peaked at 70-80 MiB, with 10k messages 58 MiB, at 9.5-10k events/s either way).
  // 100000 (librdkafka's default) if any sink batches.
  std::uint32_t prefetch_messages = 10000;
};

struct Config {
  KafkaConfig kafka;
  std::vector<SinkConfig> sinks;
  BackpressureConfig backpressure;
  RetryPolicy retry;  // the default of every sink's retry
  IdempotencyConfig idempotency;
  // Keep each sink's own progress in Kafka (groups "<group>.sink.<name>"), so that a member
  // taking a partition over does not send a sink again what it had accepted.
  bool sink_progress = true;
  DeadLetterConfig dead_letter;
  ValidationConfig validation;
  std::optional<TransformConfig> transform;  // the pipeline transform, before fan-out
  MetricsConfig metrics;
  std::chrono::milliseconds shutdown_grace{15'000};
  std::chrono::milliseconds stats_interval{0};  // 0: no periodic stats line
  std::string log_level = "info";
  std::string log_format = "text";  // or "json"
  // Settings that are accepted but do nothing any more, each with its path and why: printed
  // at start and by check-config, so an older config keeps working and says so.
  std::vector<std::string> warnings;

};

}  // namespace sluice
