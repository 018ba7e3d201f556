#pragma once

#include <cstdint>

namespace sluice {

// What happened to the events sluice took from Kafka, since start (stats line, exit line).
struct PipelineCounters {
  std::uint64_t consumed = 0;    // records taken from Kafka and dispatched
  std::uint64_t completed = 0;   // records every sink accepted
  std::uint64_t abandoned = 0;   // records dropped on revoke/lost, left for the next owner
  std::uint64_t key_fallbacks = 0;  // key source missing: the coordinates key was used
  std::uint64_t invalid = 0;        // failed validation
  std::uint64_t dead_lettered = 0;  // acknowledged on the dead-letter topic
  std::uint64_t held = 0;           // would be dead-lettered, but no topic: commit held
};

}  // namespace sluice
