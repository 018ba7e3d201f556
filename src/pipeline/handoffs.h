#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "delivery/event.h"
#include "kafka/dead_letter_producer.h"

namespace sluice {

// Events a stage has finished, waiting for the pipeline to move them on. A queue rather than
// a call so that whoever finishes an event (the dispatcher inside an HTTP answer, the dead-letter
// producer inside a delivery report) returns before anything reacts to it.
class Handoffs {
 public:
  // Where an event came from: a stage of the line (its index), or the dead-letter path.
  static constexpr std::size_t kDeadLetters = static_cast<std::size_t>(-1);

  struct Handoff {
    EventPtr event;
    std::size_t from;                       // stage index, or kDeadLetters
    std::optional<DeadLetterReason> failed;  // set: the event goes to the dead-letter path
    bool abandoned = false;  // its partition was released while a stage still had it
  };

  void push(Handoff h) { queue_.push_back(std::move(h)); }
  std::optional<Handoff> pop() {
    if (queue_.empty()) return std::nullopt;
    Handoff h = std::move(queue_.front());
    queue_.pop_front();
    return h;
  }
  bool empty() const { return queue_.empty(); }
  std::size_t size() const { return queue_.size(); }

  // Takes out the events of `partition` (every one when null) without moving them on.
  std::vector<EventPtr> abandon(const PartitionState* partition) {
    std::vector<EventPtr> out;
    std::erase_if(queue_, [&](Handoff& h) {
      if (partition != nullptr && h.event->partition.get() != partition) return false;
      out.push_back(std::move(h.event));
      return true;
    });
    return out;
  }

 private:
  std::deque<Handoff> queue_;
};

}  // namespace sluice
