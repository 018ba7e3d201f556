#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transform/transform_instance.h"

namespace sluice {

// One compiled transform with its settings: what a worker needs to make an instance.
struct TransformSlot {
  std::string name;  // "pipeline" or the sink's name: metrics and logs
  TransformModulePtr module;
  TransformLimits limits;
  std::string config;  // JSON text for sluice_init
};

// The transforms in force, as one version: the pipeline transform and each sink's (by sink
// index; empty where none). A reload publishes a new set; a job uses the set that is current
// when a worker starts it, and says which (TransformJob::set).
struct TransformSet {
  std::optional<TransformSlot> pipeline;
  std::vector<std::optional<TransformSlot>> sinks;
};
using TransformSetPtr = std::shared_ptr<const TransformSet>;

}  // namespace sluice
