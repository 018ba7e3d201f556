#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "transform/transform_set.h"
#include "transform/wasm_engine.h"

namespace sluice {

// The transforms a config names, compiled and each checked by making one instance (its ABI
// version, its sluice_init with its config), so that a bad module is a config error at
// start-up (and in check-config), named by its key.
struct LoadedTransforms {
  std::unique_ptr<WasmEngine> engine;
  TransformSetPtr set;
  std::size_t workers = 0;  // the pool's threads
};

bool hasTransforms(const Config& config);
// The transform pool's threads: the largest `workers` of the transforms configured, or the
// online cores; 0 without transforms.
std::size_t transformWorkers(const Config& config);
// Problems, one "key: reason" each; `out` filled when there are none. Slow (compiles).
std::vector<std::string> loadTransforms(const Config& config, LoadedTransforms& out);

// One module file compiled and checked as `slot` would run (for loading and reloading).
// Empty on success (then `slot.module` is set), else the reason.
std::string compileSlot(const WasmEngine& engine, const std::string& file, TransformSlot& slot,
                        bool sink_transform);

TransformLimits limitsOf(const TransformConfig& t);
// A module file's bytes, or nullopt if it cannot be read.
std::optional<std::string> readModuleFile(const std::string& file);

}  // namespace sluice
