#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/stage.h"
#include "transform/transform_pool.h"

namespace sluice {

// The transform stage (after validation, before fan-out): sends each event to a worker of the
// pool and, when its result comes back (serve(), on the pool's fd), applies it: a new body,
// headers, the sinks it goes to or skips; a failure goes to the dead-letter path with
// sluice.reason transform_failed. The loop thread only moves events and results; guest code
// runs on the workers.
class TransformStage final : public Stage {
 public:
  enum class Pinning {
    kNone,       // any worker (round robin): no sink needs an order
    kPartition,  // a partition's events always to the same worker (ordering: partition)
    kKey,        // a key's events always to the same worker (ordering: key)
  };
  struct Outcome {  // for metrics: one per transform that ran
    std::string_view transform;  // "pipeline" or the sink's name
    const char* result;          // "ok", "dropped", "routed", "failed"
    std::chrono::nanoseconds took;
  };
  using Observer = std::function<void(const Outcome&)>;

  TransformStage(TransformPool& pool, std::vector<std::string> sink_names, Pinning pinning);

  void take(EventPtr event) override;
  std::vector<EventPtr> abandon(const PartitionState* partition) override;
  void serve();  // results are in (the pool's fd is readable)
  void observe(Observer observer) { observer_ = std::move(observer); }
  std::size_t inside() const { return inside_; }  // events at the workers or queued for them

 private:
  void apply(TransformJobPtr job);
  std::size_t workerFor(const Event& e);

  TransformPool& pool_;
  std::vector<std::string> sink_names_;
  Pinning pinning_;
  std::uint64_t generation_ = 0;  // abandon(all) moves it: results of older jobs go nowhere
  std::size_t next_worker_ = 0;
  std::size_t inside_ = 0;
  Observer observer_;
};

// What a transform result means for the event (pure, for tests): its EventTransforms, or
// the reason it fails.
struct AppliedTransforms {
  std::unique_ptr<EventTransforms> transforms;  // null when nothing changed
  std::optional<std::string> failure;           // set: the event goes to the dead letters
};
AppliedTransforms applyResults(const TransformJob& job, const std::vector<std::string>& sink_names);

}  // namespace sluice
