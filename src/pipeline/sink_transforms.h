#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "delivery/dispatcher.h"
#include "pipeline/transform_stage.h"
#include "transform/transform_pool.h"

namespace sluice {

// Sink transforms, run while the event is being fanned out: the dispatcher asks for each sink
// that has one (Dispatcher::prepareWith), the transform runs on a worker, and its result goes
// back to that sink's delivery alone. So a heavy transform of one sink delays that sink only;
// the others are sent the event at once. Order is kept where the sink asks for it (pinned
// workers run a partition's or key's jobs in order; the dispatcher's lanes keep their place).
class SinkTransforms {
 public:
  using Observer = std::function<void(const TransformOutcome&)>;
  using Release = std::function<void(EventPtr)>;  // an abandoned event no worker reads any more

  // `pinning`: by sink, from its ordering.
  SinkTransforms(TransformPool& pool, Dispatcher& dispatcher,
                 std::vector<TransformStage::Pinning> pinning, Release release);
  ~SinkTransforms();  // after the pool's workers stopped: drops the events kept here
  SinkTransforms(const SinkTransforms&) = delete;
  SinkTransforms& operator=(const SinkTransforms&) = delete;

  void apply(TransformJobPtr job);  // a sink job is back from the pool
  void observe(Observer observer) { observer_ = std::move(observer); }

  // When the dispatcher abandons a partition (every one when null): first withdraw() the jobs
  // no worker has started, then pass what the dispatcher gave back through keep(): an event a
  // worker still reads stays here until its job is back, then goes to `release`.
  void withdraw(const PartitionState* partition);
  std::vector<EventPtr> keep(std::vector<EventPtr> abandoned);

  std::size_t inside() const { return inside_; }  // jobs queued for or at the workers

 private:
  void submit(std::uint64_t token, const Event& event, std::uint32_t sink);
  void finished(const Event* event);

  TransformPool& pool_;
  Dispatcher& dispatcher_;
  std::vector<TransformStage::Pinning> pinning_;
  Release release_;
  Observer observer_;
  std::unordered_map<const Event*, std::uint32_t> jobs_of_;  // events with jobs out
  std::unordered_map<const Event*, EventPtr> kept_;          // abandoned, jobs still out
  std::size_t next_worker_ = 0;
  std::size_t inside_ = 0;
};

// What a sink transform's result means for its delivery (pure, for tests). `event`: for the
// pipeline transform's version header, which this sink's extends.
// `out` by value: its body and headers move into the delivery.
Dispatcher::Preparation sinkPreparation(TransformOutput out, std::string_view sink,
                                        std::string_view version, const Event& event);

}  // namespace sluice
