#pragma once

#include "app/offset_store.h"
#include "app/signals.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"
#include "pipeline/backpressure.h"
#include "pipeline/dead_letters.h"
#include "pipeline/intake.h"
#include "pipeline/pipeline.h"

namespace sluice {

// How sluice stops. On SIGTERM/SIGINT (or a fatal Kafka error) it stops taking events, gives
// those in flight the grace period to finish, drops what is left (the next owner reads it
// again), stores the final offsets, leaves the group and stops the loop. A second signal
// exits at once.
class Shutdown {
 public:
  enum class Phase { kRunning, kDraining, kClosing };

  // `consumer` may still be under construction: it is used only once a drain begins.
  Shutdown(EventLoop& loop, Millis grace, TerminationSignals& signals, KafkaConsumer& consumer,
           Intake& intake, Backpressure& backpressure, Pipeline& pipeline, OffsetStore& offsets,
           const DeadLetters& dead_letters);

  void onSignal(int sig);  // SIGTERM or SIGINT arrived
  void onFatal();   // librdkafka reported a fatal error: drain, then exit 1
  // Ends the drain once nothing is in flight but held events (which never finish by
  // themselves and must not delay the exit).
  void finishIfDrained();
  // While leaving the group: serves the consumer's close, and stops the loop when it is done.
  void serveClose();

  Phase phase() const { return phase_; }
  int exitCode() const { return exit_code_; }

 private:
  void begin();
  void finishDrain();

  EventLoop& loop_;
  Millis grace_;
  TerminationSignals& signals_;
  KafkaConsumer& consumer_;
  Intake& intake_;
  Backpressure& backpressure_;
  Pipeline& pipeline_;
  OffsetStore& offsets_;
  const DeadLetters& dead_letters_;
  Phase phase_ = Phase::kRunning;
  Scheduler::TimerId grace_timer_ = 0;
  int exit_code_ = 0;
};

}  // namespace sluice
