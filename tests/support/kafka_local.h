#pragma once

#include <string>

namespace sluice::testing {

// A broker of its own for a test that stops, kills and restarts it (scripts/kafka-local on a
// port of its own: the shared broker on 9092 serves the other tests meanwhile). Stopped when
// this goes out of scope.
class KafkaLocal {
 public:
  explicit KafkaLocal(int port);
  ~KafkaLocal();
  KafkaLocal(const KafkaLocal&) = delete;
  KafkaLocal& operator=(const KafkaLocal&) = delete;

  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  void start();  // returns once the broker answers; throws if it does not come up
  void stop();   // SIGTERM: a clean shutdown
  void kill();   // SIGKILL: a crash

 private:
  void run(const std::string& command);
  int port_;
};

}  // namespace sluice::testing
