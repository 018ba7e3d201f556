#include "kafka_local.h"

#include <cstdlib>
#include <stdexcept>

namespace sluice::testing {

KafkaLocal::KafkaLocal(int port) : port_(port) {}

KafkaLocal::~KafkaLocal() {
  try {
    stop();
  } catch (...) {
    // Nothing to do in a destructor: the next start on this port reuses or replaces it.
  }
}

void KafkaLocal::run(const std::string& command) {
  const std::string line = std::string(SLUICE_TEST_KAFKA_LOCAL) + " --port " +
                           std::to_string(port_) + " " + command + " >/dev/null";
  if (std::system(line.c_str()) != 0) throw std::runtime_error("failed: " + line);
}

void KafkaLocal::start() { run("start"); }
void KafkaLocal::stop() { run("stop"); }
void KafkaLocal::kill() { run("kill"); }

}  // namespace sluice::testing
