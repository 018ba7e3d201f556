#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "kafka/rd_handles.h"
#include "util/unique_fd.h"

namespace sluice {

// What the dead-letter record says about why the event is there (as sluice.* headers).
struct DeadLetterReason {
  std::string reason;  // invalid_json, too_large, schema_mismatch, permanent_status,
                       // retries_exhausted
  std::string sinks;   // the sinks that gave up, comma-separated; empty for invalid events
  long status = 0;     // last HTTP status
  std::string error;   // last transport error, or what made the event invalid
  std::uint32_t attempts = 0;
  std::string where;   // for invalid events: where in the event
  // Write the record without its value (for values over the topic's size limit); the
  // header sluice.value_omitted then carries the original size.
  bool omit_value = false;
  // The last resort before holding: also without the original key and headers (a hostile
  // record's own may be over the limit), keeping the sluice.* headers and coordinates;
  // sluice.key_omitted carries the key's size.
  bool omit_key_and_headers = false;
};

// The record a dead letter carries: what sluice kept of it (the consumer's message is gone).
struct DeadLetterSource {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = -1;              // -1: none
  std::string_view value;                      // no data: a null value
  std::optional<std::string_view> key;         // nullopt: a null key
  const rd_kafka_headers_t* headers = nullptr;  // the record's own; null: none
};

// Produces dead letters with an idempotent producer (acks=all): the event's key, value and
// headers unchanged, plus sluice.* headers naming the reason and the original coordinates.
// Delivery reports arrive on the loop thread through an eventfd, like the consumer's queue.
class DeadLetterProducer {
 public:
  // (id, error): RD_KAFKA_RESP_ERR_NO_ERROR once the record is acknowledged by all replicas.
  using AckCallback = std::function<void(std::uint64_t id, rd_kafka_resp_err_t err)>;
  // A producer-level error, on the loop thread. `fatal`: the idempotent producer can produce
  // nothing more (librdkafka's fatal error state); only a new producer recovers.
  using ErrorCallback =
      std::function<void(rd_kafka_resp_err_t err, bool fatal, const std::string& reason)>;

  DeadLetterProducer(const KafkaConfig& kafka, const DeadLetterConfig& config, AckCallback on_ack,
                     ErrorCallback on_error);  // throws (bad settings)
  ~DeadLetterProducer();
  DeadLetterProducer(const DeadLetterProducer&) = delete;
  DeadLetterProducer& operator=(const DeadLetterProducer&) = delete;

  int wakeFd() const { return wake_fd_.get(); }
  void serve();  // delivery reports, on the loop thread

  // Starts producing; the outcome comes through the ack callback. An error returned here
  // (e.g. the local queue is full) means nothing was produced.
  rd_kafka_resp_err_t produce(std::uint64_t id, const DeadLetterSource& original,
                              const DeadLetterReason& why);

  const std::string& topic() const { return topic_; }

  // Puts the producer into librdkafka's fatal error state, as a broker could (tests only).
  void triggerFatalErrorForTesting();

 private:
  static void onDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void onError(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  std::string topic_;
  AckCallback on_ack_;
  ErrorCallback on_error_;
  UniqueFd wake_fd_;
  RdKafkaPtr rk_;
  RdQueuePtr queue_;
};

}  // namespace sluice
