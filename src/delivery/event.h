#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "delivery/partition_registry.h"
#include "loop/event_loop.h"

namespace sluice {

// One Kafka record on its way to every sink. The body is a view into `owner` (the librdkafka
// message), so a record's payload is never copied.
struct Event {
  PartitionStatePtr partition;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = -1;  // the record's timestamp, -1 if none
  std::string idempotency_key;     // sf-string, identical on every redelivery
  std::string_view body;
  std::shared_ptr<void> owner;
  TimePoint received_at{};
};
using EventPtr = std::unique_ptr<Event>;

}  // namespace sluice
