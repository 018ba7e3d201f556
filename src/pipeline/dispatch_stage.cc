#include "pipeline/dispatch_stage.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {

std::vector<Dispatcher::SinkSettings> sinkSettings(const Config& c) {
  std::vector<Dispatcher::SinkSettings> out;
  for (const auto& s : c.sinks) {
    Dispatcher::SinkSettings d;
    d.name = s.name;
    d.max_in_flight = s.max_in_flight;
    d.adaptive_concurrency = s.adaptive_concurrency;
    d.retry = s.retry;
    d.statuses = StatusPolicy(s.statuses);
    d.ordering = s.ordering;
    d.circuit_failures = s.circuit_failures;
    d.batch_max_events = s.batch_max_events;
    d.batch_max_bytes = s.batch_max_bytes;
    d.prepared = s.transform.has_value();
    out.push_back(std::move(d));
  }
  return out;
}

DeadLetterReason reasonFromFailures(const Event& e) {
  DeadLetterReason why;
  // One reason per record: a transform's failure explains most (nothing was sent to that
  // sink), then a permanent answer, then running out of attempts.
  const auto rank = [](std::string_view reason) {
    return reason == "transform_failed" ? 2 : reason == "permanent_status" ? 1 : 0;
  };
  why.reason = "retries_exhausted";
  const SinkFailure* telling = nullptr;
  for (const auto& f : e.failures) {
    if (!why.sinks.empty()) why.sinks += ',';
    why.sinks += f.sink;
    why.attempts = std::max(why.attempts, f.attempts);
    if (telling == nullptr || rank(f.reason) >= rank(telling->reason)) telling = &f;
  }
  if (telling != nullptr) {
    why.reason = telling->reason;
    why.status = telling->status;
    why.error = telling->error;
  }
  return why;
}

DispatchStage::DispatchStage(Scheduler& scheduler, const Config& config, std::uint64_t seed)
    : dispatcher_(scheduler, sinkSettings(config), config.dead_letter.enabled(), seed,
                  [this](EventPtr e) { finished(std::move(e)); }) {}

void DispatchStage::finished(EventPtr event) {
  if (event->failures.empty()) {
    exit().passed(std::move(event));
    return;
  }
  DeadLetterReason why = reasonFromFailures(*event);
  exit().failed(std::move(event), std::move(why));
}

void DispatchStage::take(EventPtr event) {
  if (!event->partition->progress_known) {
    ++waiting_count_;
    waiting_[event->partition.get()].push_back(std::move(event));
    return;
  }
  dispatcher_.dispatch(std::move(event));
}

void DispatchStage::progressKnown(const PartitionState& partition) {
  auto it = waiting_.find(&partition);
  if (it == waiting_.end()) return;
  std::vector<EventPtr> events = std::move(it->second);
  waiting_.erase(it);
  waiting_count_ -= events.size();
  for (auto& e : events) dispatcher_.dispatch(std::move(e));
}

void DispatchStage::holdNew(bool hold) {
  if (hold == dispatcher_.held()) return;
  if (hold) {
    spdlog::warn("kafka unreachable: no new request goes to a sink until a broker answers "
                 "(nothing delivered now could be committed); requests under way finish");
  } else {
    spdlog::info("kafka reachable again: deliveries go on");
  }
  dispatcher_.hold(hold);
}

SinkTransforms& DispatchStage::transformSinks(TransformPool& pool,
                                              std::vector<TransformStage::Pinning> pinning) {
  sink_transforms_ = std::make_unique<SinkTransforms>(
      pool, dispatcher_, std::move(pinning), [this](EventPtr e) { exit().abandoned(std::move(e)); });
  return *sink_transforms_;
}

std::vector<EventPtr> DispatchStage::abandon(const PartitionState* partition) {
  if (sink_transforms_) sink_transforms_->withdraw(partition);
  std::vector<EventPtr> out = partition ? dispatcher_.abandon(partition) : dispatcher_.abandonAll();
  // An event a worker still reads for a sink transform stays until the worker is done.
  if (sink_transforms_) out = sink_transforms_->keep(std::move(out));
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (partition != nullptr && it->first != partition) {
      ++it;
      continue;
    }
    waiting_count_ -= it->second.size();
    for (auto& e : it->second) out.push_back(std::move(e));
    it = waiting_.erase(it);
  }
  return out;
}

}  // namespace sluice
