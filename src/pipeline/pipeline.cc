#include "pipeline/pipeline.h"

namespace sluice {

Pipeline::Pipeline(Backpressure& backpressure, DeadLetters& dead_letters,
                   PipelineCounters& counters, bool dead_letter_topic)
    : backpressure_(backpressure),
      dead_letters_(dead_letters),
      counters_(counters),
      dead_letter_topic_(dead_letter_topic) {}

void Pipeline::add(Stage& stage) {
  stage.connect(StageExit(handoffs_, line_.size()));
  line_.push_back(&stage);
}

void Pipeline::admit(EventPtr event) {
  backpressure_.admit(*event);
  line_.front()->take(std::move(event));
}

void Pipeline::deadLettered(EventPtr event) {
  handoffs_.push({std::move(event), Handoffs::kDeadLetters, std::nullopt});
}

void Pipeline::route() {
  // The settle hook releases partitions and may stop the loop, but never routes itself; the
  // guard keeps it that way.
  if (routing_) return;
  routing_ = true;
  for (;;) {
    while (auto handoff = handoffs_.pop()) moveOn(std::move(*handoff));
    if (!settled_) break;
    settled_ = false;
    if (on_settled_) on_settled_();
  }
  routing_ = false;
}

void Pipeline::moveOn(Handoffs::Handoff h) {
  if (h.from == Handoffs::kDeadLetters) {
    ++counters_.dead_lettered;
    complete(std::move(h.event));
    return;
  }
  if (h.abandoned) {
    backpressure_.release(*h.event);
    ++counters_.abandoned;
    settled_ = true;
    return;
  }
  backpressure_.resize(*h.event);
  if (h.failed) {
    if (!dead_letter_topic_) ++counters_.held;
    dead_letters_.send(std::move(h.event), std::move(*h.failed));
    return;
  }
  const std::size_t next = h.from + 1;
  if (next < line_.size()) {
    line_[next]->take(std::move(h.event));
    return;
  }
  complete(std::move(h.event));
}

void Pipeline::complete(EventPtr event) {
  ++counters_.completed;
  if (on_completed_) on_completed_(*event);
  PartitionState& p = *event->partition;
  if (p.active) {
    p.offsets.completed(event->offset);
    for (std::size_t s = 0; s < p.sink_offsets.size(); ++s) p.sinkDone(s, event->offset);
  }
  backpressure_.release(*event);
  settled_ = true;
}

std::size_t Pipeline::abandon(const PartitionState* partition) {
  std::vector<EventPtr> dropped = handoffs_.abandon(partition);
  for (Stage* stage : line_) {
    for (auto& e : stage->abandon(partition)) dropped.push_back(std::move(e));
  }
  for (auto& e : dead_letters_.abandon(partition)) dropped.push_back(std::move(e));
  for (const auto& e : dropped) backpressure_.release(*e);
  counters_.abandoned += dropped.size();
  settled_ = true;
  return dropped.size();
}

}  // namespace sluice
