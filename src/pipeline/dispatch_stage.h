#pragma once

#include <cstdint>
#include <vector>

#include "config/config.h"
#include "delivery/dispatcher.h"
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

  void take(EventPtr event) override { dispatcher_.dispatch(std::move(event)); }
  std::vector<EventPtr> abandon(const PartitionState* partition) override;

 private:
  void finished(EventPtr event);

  Dispatcher dispatcher_;
};

// Each sink's delivery settings (retry, statuses, ordering, batching), built from its config.
std::vector<Dispatcher::SinkSettings> sinkSettings(const Config& config);

// Why an event some sink gave up on goes to the dead-letter topic.
DeadLetterReason reasonFromFailures(const Event& event);

}  // namespace sluice
