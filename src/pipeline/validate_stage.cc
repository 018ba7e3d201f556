#include "pipeline/validate_stage.h"

#include <spdlog/spdlog.h>

#include "delivery/idempotency_key.h"

namespace sluice {

ValidateStage::ValidateStage(const ValidationConfig& validation, const IdempotencyConfig& keys,
                             PipelineCounters& counters)
    : validator_(validation), keys_(keys), counters_(counters) {}

void ValidateStage::take(EventPtr event) {
  const PartitionState& p = *event->partition;
  // Validated before the key is derived: a JSON pointer key parses the event into a DOM,
  // which only an event within max_bytes and max_depth may cost. An invalid event never
  // reaches a sink, so its coordinates are key enough.
  std::optional<Invalid> invalid = validator_.check(event->body);
  if (!invalid) {
    event->idempotency_key = keyFor(*event);
    exit().passed(std::move(event));
    return;
  }
  event->idempotency_key = toSfString(coordinatesKey(p.topic, p.partition, event->offset));
  ++counters_.invalid;
  DeadLetterReason why;
  why.reason = invalid->reason;
  why.error = std::move(invalid->detail);
  why.where = std::move(invalid->where);
  // It is too large for sinks; it may well be too large for the dead-letter topic too.
  why.omit_value = std::string_view(invalid->reason) == "too_large";
  exit().failed(std::move(event), std::move(why));
}

std::string ValidateStage::keyFor(const Event& event) {
  const PartitionState& p = *event.partition;
  std::optional<std::string_view> header;
  if (keys_.source == KeySource::kHeader && event.record_headers) {
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_header_get_last(event.record_headers.get(), keys_.header.c_str(), &value,
                                 &size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != nullptr) {
      header = std::string_view(static_cast<const char*>(value), size);
    }
  }
  KeyDerivation k =
      deriveIdempotencyKey(keys_, event.body, header, p.topic, p.partition, event.offset);
  // Count it so operators see it happening; warn once.
  if (k.fell_back && counters_.key_fallbacks++ == 0) {
    spdlog::warn("idempotency key source missing or over {} bytes in {}[{}]@{}; using the "
                 "record's coordinates",
                 kMaxSuppliedKeyBytes, p.topic, p.partition, event.offset);
  }
  return std::move(k.key);
}

}  // namespace sluice
