#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "delivery/partition_registry.h"
#include "kafka/rd_handles.h"
#include "loop/event_loop.h"

namespace sluice {

// Why one sink gave up on an event (it then goes to the dead-letter topic).
struct SinkFailure {
  std::string sink;
  const char* reason;  // "permanent_status" or "retries_exhausted"
  long status;         // last HTTP status, 0 if none
  std::string error;   // last transport error, empty if an HTTP answer came
  std::uint32_t attempts;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// What transforms made of an event (src/transform/): an owned body in place of the record's
// value, headers for the requests, and per sink its own body and headers or none at all.
struct EventTransforms {
  std::string body;     // the pipeline transform's body, when body_set
  bool body_set = false;
  HttpHeaders headers;  // for every sink's request
  struct Sink {
    bool skip = false;  // routed elsewhere, or dropped by this sink's transform
    std::optional<std::string> body;
    HttpHeaders headers;  // after `headers`; the same name replaces
  };
  std::vector<Sink> sinks;  // by sink index; empty: every sink as above
};

// One Kafka record on its way to every sink. The body and Kafka key are views into
// `record_bytes`, the event's own copy of them: a librdkafka message keeps the whole fetch
// response it came in allocated (up to fetch.max.bytes, all partitions' records), so an event
// holding its message for the length of a sink outage would pin megabytes that the in-flight
// byte budget never sees. A copy makes that budget the bound.
struct Event {
  PartitionStatePtr partition;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = -1;  // the record's timestamp, -1 if none
  std::string idempotency_key;     // sf-string, identical on every redelivery
  std::string_view body;
  std::optional<std::string_view> kafka_key;  // for ordering: "key"; nullopt for a null key
  std::unique_ptr<char[]> record_bytes;  // value then key; null where a test makes events
  RdHeadersPtr record_headers;            // the record's own headers; null when it has none
  std::vector<SinkFailure> failures;  // sinks that gave up; non-empty means dead-letter
  TimePoint received_at{};
  std::unique_ptr<EventTransforms> transforms;  // null unless a transform changed something
  // Copies the record's value and key out of `message` and takes its headers (librdkafka
  // hands them over), so the message can be destroyed at once.
  void adoptRecord(rd_kafka_message_t& message);

  // What this event counts against the in-flight byte budgets: its payload and its
  // idempotency key. A stage may change both; the budgets follow.
  std::uint64_t accountedBytes() const { return body.size() + idempotency_key.size(); }
  std::uint64_t accounted = 0;  // what the budgets hold for it now (set by Backpressure)

  // What sink `s` is sent, after any transform.
  std::string_view bodyFor(std::size_t s) const {
    if (transforms && s < transforms->sinks.size() && transforms->sinks[s].body) {
      return *transforms->sinks[s].body;
    }
    return body;
  }
  bool skips(std::size_t s) const {
    return transforms && s < transforms->sinks.size() && transforms->sinks[s].skip;
  }
  // The headers of a transform that requests to sink `s` carry: every sink's, then the
  // sink's own (the same name replaces).
  const HttpHeaders& headers() const { return transforms ? transforms->headers : kNoHeaders; }
  const HttpHeaders& headersFor(std::size_t s) const {
    return transforms && s < transforms->sinks.size() ? transforms->sinks[s].headers : kNoHeaders;
  }
  // Whether sink `s` gets the same headers for this event as for `other` (a batch carries one
  // set of headers, so only such events share one).
  bool sameHeadersFor(std::size_t s, const Event& other) const {
    return headers() == other.headers() && headersFor(s) == other.headersFor(s);
  }

 private:
  static inline const HttpHeaders kNoHeaders{};
};
using EventPtr = std::unique_ptr<Event>;

}  // namespace sluice
