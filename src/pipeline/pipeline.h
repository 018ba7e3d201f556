#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "pipeline/backpressure.h"
#include "pipeline/counters.h"
#include "pipeline/dead_letters.h"
#include "pipeline/handoffs.h"
#include "pipeline/stage.h"

namespace sluice {

// An event's way: admitted -> each stage of the line in turn -> complete (its offset may be
// committed); a stage that fails it sends it down the dead-letter path, which completes it
// once the dead-letter topic has it. The pipeline only moves events between stages: it does
// so in route(), after the calls that finished them returned, never from inside a stage.
class Pipeline {
 public:
  Pipeline(Backpressure& backpressure, DeadLetters& dead_letters, PipelineCounters& counters,
           bool dead_letter_topic);

  // Appends a stage to the line (at wiring, in order).
  void add(Stage& stage);
  // Called from route() after events completed, were dropped or became held: a drain waiting
  // for them (the shutdown's) may be over.
  void onSettled(std::function<void()> hook) { on_settled_ = std::move(hook); }
  // Called for every completed event (metrics).
  void observeCompleted(std::function<void(const Event&)> observer) {
    on_completed_ = std::move(observer);
  }

  // A new event from Kafka: counted against the budgets and given to the first stage.
  void admit(EventPtr event);
  // The dead-letter topic acknowledged this event.
  void deadLettered(EventPtr event);
  // Something a drain waits for changed outside the pipeline (an event became held, a
  // shutdown began): run the settle hook at the end of the next route().
  void recheckDrains() { settled_ = true; }

  // Moves on every event finished since the last call, until none is left. Called by the loop
  // at the end of each round.
  void route();

  // Drops what sluice holds of `partition` (every partition when null) without completing it;
  // returns how many events. The next owner reads them again from the committed offset.
  std::size_t abandon(const PartitionState* partition);

  std::size_t waitingHandoffs() const { return handoffs_.size(); }

 private:
  void moveOn(Handoffs::Handoff handoff);
  void complete(EventPtr event);

  Backpressure& backpressure_;
  DeadLetters& dead_letters_;
  PipelineCounters& counters_;
  bool dead_letter_topic_;
  Handoffs handoffs_;
  std::vector<Stage*> line_;
  std::function<void()> on_settled_;
  std::function<void(const Event&)> on_completed_;
  bool settled_ = false;
  bool routing_ = false;
};

}  // namespace sluice
