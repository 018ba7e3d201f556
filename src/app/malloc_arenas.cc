#include "app/malloc_arenas.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "transform/transform_loader.h"

namespace sluice {

void limitMallocArenas(const Config& config) {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return;
  const int arenas = static_cast<int>(2 + transformWorkers(config));
  if (::mallopt(M_ARENA_MAX, arenas) != 1) spdlog::debug("mallopt(M_ARENA_MAX) refused");
}

}  // namespace sluice
