#include "chunked_producer.h"

#include "kafka_client.h"

namespace sluice::testing {

ChunkedProducer::ChunkedProducer(std::string bootstrap, std::string topic, int partitions,
                                 std::int64_t chunks, std::int64_t chunk, double rate)
    : total_(chunks * chunk) {
  thread_ = std::thread([this, bootstrap, topic, partitions, chunks, chunk, rate] {
    try {
      for (std::int64_t c = 0; c < chunks; ++c) {
        ProduceOptions o;
        o.count = chunk;
        o.first_seq = c * chunk;
        o.partitions = partitions;
        o.body_bytes = 200;
        o.rate_per_sec = rate;
        produceEvents(bootstrap, topic, o);
        produced_ += chunk;
      }
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
