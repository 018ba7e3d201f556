#include "app/malloc_arenas.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace sluice {

void limitMallocArenas(const Config& config) {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return;
  // As the transform pool sizes itself (transform_loader.cc): the largest `workers` of the
  // transforms configured, or the cores.
  bool transforms = false;
  unsigned workers = 0;
  const auto count = [&](const std::optional<TransformConfig>& t) {
    if (!t) return;
    transforms = true;
    workers = std::max(workers, t->workers);
  };
  count(config.transform);
  for (const auto& s : config.sinks) count(s.transform);
  if (transforms && workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  const int arenas = static_cast<int>(2 + workers);
  if (::mallopt(M_ARENA_MAX, arenas) != 1) spdlog::debug("mallopt(M_ARENA_MAX) refused");
}

}  // namespace sluice
