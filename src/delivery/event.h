#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// One Kafka record on its way to every sink. The body and Kafka key are views into `message`
// (the librdkafka message the event owns), so a record's payload is never copied.
struct Event {
  PartitionStatePtr partition;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = -1;  // the record's timestamp, -1 if none
  std::string idempotency_key;     // sf-string, identical on every redelivery
  std::string_view body;
  std::optional<std::string_view> kafka_key;  // for ordering: "key"; nullopt for a null key
  RdMessagePtr message;  // null only where a test makes events without Kafka
  std::vector<SinkFailure> failures;  // sinks that gave up; non-empty means dead-letter
  TimePoint received_at{};
  // What this event counts against the in-flight byte budgets: its payload (owned by the
  // Kafka message) and its key (owned here). A stage may change both; the budgets follow.
  std::uint64_t accountedBytes() const { return body.size() + idempotency_key.size(); }
  std::uint64_t accounted = 0;  // what the budgets hold for it now (set by Backpressure)
};
using EventPtr = std::unique_ptr<Event>;

}  // namespace sluice
