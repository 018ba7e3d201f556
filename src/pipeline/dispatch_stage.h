#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "delivery/dispatcher.h"
#include "pipeline/sink_transforms.h"
#include "pipeline/stage.h"

namespace sluice {

// The fan-out stage: passes an event on once every sink accepted it; fails it (to the
// dead-letter path) when a sink gave up on it.
class DispatchStage final : public Stage {
 public:
  DispatchStage(Scheduler& scheduler, const Config& config, std::uint64_t seed);

  // The transport is created after the stage (it needs the dispatcher as its handler).
  void attach(HttpTransport& transport) { dispatcher_.attach(transport); }
  Dispatcher& dispatcher() { return dispatcher_; }
  const Dispatcher& dispatcher() const { return dispatcher_; }

  // Runs the sinks' transforms (those configured with one) on `pool` during fan-out.
  SinkTransforms& transformSinks(TransformPool& pool, std::vector<TransformStage::Pinning> pinning);
  SinkTransforms* sinkTransforms() { return sink_transforms_.get(); }
  // Once the pool's workers have stopped: what was kept for them goes (its Kafka messages
  // must go before the consumer's handle).
  void stopTransforms() { sink_transforms_.reset(); }
  const SinkTransforms* sinkTransforms() const { return sink_transforms_.get(); }

  // Events of a partition whose sinks' progress is still loading wait here until
  // progressKnown(): sent before, they could reach a sink that already has them.
  void take(EventPtr event) override;
  std::vector<EventPtr> abandon(const PartitionState* partition) override;
  void progressKnown(const PartitionState& partition);
  // While Kafka is unreachable no new request starts (Dispatcher::hold): nothing delivered
  // then could be committed, so a crash would send it all again, and the source has stopped
  // anyway (only what was fetched before waits).
  void holdNew(bool hold);
  // Events waiting for their partition's progress.
  std::size_t waiting() const { return waiting_count_; }

 private:
  void finished(EventPtr event);

  Dispatcher dispatcher_;
  std::unique_ptr<SinkTransforms> sink_transforms_;  // null without sink transforms
  std::unordered_map<const PartitionState*, std::vector<EventPtr>> waiting_;
  std::size_t waiting_count_ = 0;
};

// Each sink's delivery settings (retry, statuses, ordering, batching), built from its config.
std::vector<Dispatcher::SinkSettings> sinkSettings(const Config& config);

// Why an event some sink gave up on goes to the dead-letter topic.
DeadLetterReason reasonFromFailures(const Event& event);

}  // namespace sluice
