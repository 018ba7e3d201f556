#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>

namespace sluice::testing {

// Produces `chunks` x `chunk` numbered events (200-byte bodies, round-robin over the topic's
// partitions) at `rate` events/s on a thread of its own, counting each acknowledged event, so
// a test can wait for a point in the production. An error ends the count at the total and
// is rethrown by join().
class ChunkedProducer {
 public:
  ChunkedProducer(std::string bootstrap, std::string topic, int partitions, std::int64_t chunks,
                  std::int64_t chunk, double rate);
  ~ChunkedProducer();
  ChunkedProducer(const ChunkedProducer&) = delete;
  ChunkedProducer& operator=(const ChunkedProducer&) = delete;

  std::int64_t produced() const { return produced_; }
  std::int64_t total() const { return total_; }
  bool done() const { return produced_ >= total_; }
  void join();

 private:
  std::int64_t total_;
  std::atomic<std::int64_t> produced_{0};
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace sluice::testing
