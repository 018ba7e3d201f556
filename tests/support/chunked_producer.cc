#include "chunked_producer.h"

#include "kafka_client.h"

namespace sluice::testing {

ChunkedProducer::ChunkedProducer(std::string bootstrap, std::string topic, int partitions,
                                 std::int64_t chunks, std::int64_t chunk, double rate)
    : total_(chunks * chunk) {
  thread_ = std::thread([this, bootstrap, topic, partitions, rate] {
    try {
      // One producer for the whole run: a new idempotent producer waits 0.5-1 s for its
      // producer id before it sends anything (librdkafka's PID timer), so a producer per chunk
      // stalled the flow at chunk boundaries, and the tests act at chunk boundaries.
      ProduceOptions o;
      o.count = total_;
      o.partitions = partitions;
      o.body_bytes = 200;
      o.rate_per_sec = rate;
      o.acked = &produced_;
      produceEvents(bootstrap, topic, o);
      produced_ = total_;
    } catch (...) {
      error_ = std::current_exception();
      produced_ = total_;
    }
  });
}

ChunkedProducer::~ChunkedProducer() {
  if (thread_.joinable()) thread_.join();
}

void ChunkedProducer::join() {
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
}

}  // namespace sluice::testing
