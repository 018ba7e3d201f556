#pragma once

#include <cstddef>
#include <vector>

#include "delivery/event.h"
#include "kafka/dead_letter_producer.h"
#include "pipeline/handoffs.h"

namespace sluice {

// How a stage finishes an event: passed on to the next stage, or failed (to the dead-letter
// path). Finishing only queues the event (Handoffs); the pipeline moves it on after the call
// that finished it has returned, so no stage is ever re-entered in the middle of its own work.
class StageExit {
 public:
  StageExit() = default;
  StageExit(Handoffs& handoffs, std::size_t stage) : handoffs_(&handoffs), stage_(stage) {}

  void passed(EventPtr event) { handoffs_->push({std::move(event), stage_, std::nullopt}); }
  void failed(EventPtr event, DeadLetterReason why) {
    handoffs_->push({std::move(event), stage_, std::move(why)});
  }
  // An event the stage could not give back when its partition was abandoned (it was on a
  // worker thread): it goes nowhere, as if abandon() had returned it.
  void abandoned(EventPtr event) {
    handoffs_->push({std::move(event), stage_, std::nullopt, true});
  }

 private:
  Handoffs* handoffs_ = nullptr;
  std::size_t stage_ = 0;
};

// One step of an event's way (validate, dispatch; a transform slots in the same way). A stage
// takes an event and finishes it through exit(): at once, or later and from elsewhere (an
// HTTP answer, a worker thread's result brought back to the loop). Stages know nothing of
// each other; the pipeline connects them.
class Stage {
 public:
  virtual ~Stage() = default;

  virtual void take(EventPtr event) = 0;
  // Gives back, unfinished, the events of `partition` (every one when null) it holds: the
  // partition is being released and its next owner reads them again.
  virtual std::vector<EventPtr> abandon(const PartitionState* partition) = 0;

  void connect(StageExit exit) { exit_ = exit; }

 protected:
  StageExit& exit() { return exit_; }

 private:
  StageExit exit_;
};

}  // namespace sluice
