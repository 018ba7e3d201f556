#pragma once

#include "pipeline/counters.h"
#include "config/config.h"
#include "pipeline/stage.h"
#include "validate/validator.h"

namespace sluice {

// The first stage: an event that fails validation goes to the dead-letter path and never
// reaches a sink; one that passes gets its Idempotency-Key.
class ValidateStage final : public Stage {
 public:
  // Throws at start-up (a bad schema).
  ValidateStage(const ValidationConfig& validation, const IdempotencyConfig& keys,
                PipelineCounters& counters);

  void take(EventPtr event) override;
  std::vector<EventPtr> abandon(const PartitionState*) override { return {}; }  // holds none

 private:
  std::string keyFor(const Event& event);

  Validator validator_;
  IdempotencyConfig keys_;
  PipelineCounters& counters_;
};

}  // namespace sluice
