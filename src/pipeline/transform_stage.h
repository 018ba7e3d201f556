#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/stage.h"
#include "transform/transform_pool.h"

namespace sluice {

// The pipeline transform's stage (after validation, before fan-out): sends each event to a
// worker of the pool and, when its result comes back (apply(), from the pool's fd), applies
// it: a new body, headers, the sinks it goes to or skips; a failure goes to the dead-letter
// path with sluice.reason transform_failed. The loop thread only moves events and results;
// guest code runs on the workers. (Sink transforms run during fan-out: SinkTransforms.)
class TransformStage final : public Stage {
 public:
  enum class Pinning {
    kNone,       // any worker (round robin): no sink needs an order
    kPartition,  // a partition's events always to the same worker (ordering: partition)
    kKey,        // a key's events always to the same worker (ordering: key)
  };
  using Observer = std::function<void(const TransformOutcome&)>;

  TransformStage(TransformPool& pool, std::vector<std::string> sink_names, Pinning pinning);

  void take(EventPtr event) override;
  std::vector<EventPtr> abandon(const PartitionState* partition) override;
  void apply(TransformJobPtr job);  // a pipeline job is back from the pool
  void observe(Observer observer) { observer_ = std::move(observer); }
  std::size_t inside() const { return inside_; }  // events at the workers or queued for them

 private:
  TransformPool& pool_;
  std::vector<std::string> sink_names_;
  Pinning pinning_;
  std::uint64_t generation_ = 0;  // abandon(all) moves it: results of older jobs go nowhere
  std::size_t next_worker_ = 0;
  std::size_t inside_ = 0;
  Observer observer_;
};

// Which worker an event's transform runs on: a partition's or a key's events always on the
// same one when an order is asked for (a worker runs its jobs in order), else `next`.
std::size_t pinnedWorker(TransformStage::Pinning pinning, const Event& event, std::size_t next);

// What the pipeline transform's result means for the event (pure, for tests): its
// EventTransforms, or the reason it fails.
struct AppliedTransforms {
  std::unique_ptr<EventTransforms> transforms;  // null when nothing changed
  std::optional<std::string> failure;           // set: the event goes to the dead letters
};
// `out` by value: its body and headers move into the event.
AppliedTransforms applyPipelineResult(TransformOutput out, std::string_view version,
                                      const std::vector<std::string>& sink_names);

}  // namespace sluice
