#pragma once

#include "config/config.h"

namespace sluice {

// Caps glibc's malloc arenas before the first thread starts: two for the event loop and
// librdkafka's threads, one more per transform worker. glibc's default (eight per core) gives
// each of librdkafka's ~20 threads an arena of its own, and what one frees stays mapped in
// it: 57-83 MiB peak with a sink down and 10k events held, against 57-62 MiB capped.
// MALLOC_ARENA_MAX in the environment wins.
void limitMallocArenas(const Config& config);

}  // namespace sluice
