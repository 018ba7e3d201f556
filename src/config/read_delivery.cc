#include "config/section_readers.h"

namespace sluice::config_detail {
namespace {

void readIdempotencyKey(Reader& r, const YAML::Node& node, const std::string& path,
                        IdempotencyConfig& k) {
  if (!r.optionalMap(node, path, {"from", "json_pointer", "header"})) return;
  std::string from = "coordinates";
  r.string(node, path, "from", from, false);
  if (from == "coordinates") {
    k.source = KeySource::kCoordinates;
  } else if (from == "json_pointer") {
    k.source = KeySource::kJsonPointer;
    r.string(node, path, "json_pointer", k.json_pointer, true);
    if (!k.json_pointer.empty() && k.json_pointer[0] != '/') {
      r.problem(path + ".json_pointer", "must be an RFC 6901 pointer starting with '/'");
    }
  } else if (from == "header") {
    k.source = KeySource::kHeader;
    r.string(node, path, "header", k.header, true);
  } else {
    r.problem(path + ".from", "must be one of coordinates, json_pointer, header");
  }
}

}  // namespace

void readDelivery(Reader& r, const YAML::Node& node, Config& c) {
  const std::string path = "delivery";
  if (!r.optionalMap(node, path,
                     {"max_in_flight_events", "max_in_flight_bytes",
                      "partition_max_in_flight_events", "partition_max_in_flight_bytes",
                      "partition_max_uncommitted", "retry", "idempotency_key",
                      "sink_progress"})) {
    return;
  }
  BackpressureConfig& b = c.backpressure;
  r.integer(node, path, "max_in_flight_events", b.max_events, 1, 10'000'000);
  r.integer(node, path, "max_in_flight_bytes", b.max_bytes, 1024, 1LL << 40);
  r.integer(node, path, "partition_max_in_flight_events", b.partition_max_events, 1, 10'000'000);
  r.integer(node, path, "partition_max_in_flight_bytes", b.partition_max_bytes, 1024, 1LL << 40);
  r.integer(node, path, "partition_max_uncommitted", b.partition_max_uncommitted, 2, 100'000'000);
  r.boolean(node, path, "sink_progress", c.sink_progress);
  readRetry(r, node["retry"], path + ".retry", c.retry);
  readIdempotencyKey(r, node["idempotency_key"], path + ".idempotency_key", c.idempotency);
}

void readRetry(Reader& r, const YAML::Node& node, const std::string& path, RetryPolicy& p) {
  if (!r.optionalMap(node, path,
                     {"initial_backoff_ms", "max_backoff_ms", "multiplier", "max_attempts",
                      "max_elapsed_ms"})) {
    return;
  }
  r.millis(node, path, "initial_backoff_ms", p.backoff.initial, 1, 3'600'000);
  r.millis(node, path, "max_backoff_ms", p.backoff.max, 1, 3'600'000);
  r.number(node, path, "multiplier", p.backoff.multiplier, 1.0, 100.0);
  r.integer(node, path, "max_attempts", p.max_attempts, 0, 1'000'000);
  r.millis(node, path, "max_elapsed_ms", p.max_elapsed, 0, 30LL * 24 * 3'600'000);
  if (p.backoff.max < p.backoff.initial) {
    r.problem(path + ".max_backoff_ms", "must be >= initial_backoff_ms");
  }
}

}  // namespace sluice::config_detail
