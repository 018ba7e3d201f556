#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loop/event_loop.h"

namespace sluice {

struct PipelineCounters {
  std::uint64_t consumed = 0;    // records taken from Kafka and dispatched
  std::uint64_t completed = 0;   // records every sink accepted
  std::uint64_t abandoned = 0;   // records dropped on revoke/lost, left for the next owner
  std::uint64_t key_fallbacks = 0;  // key source missing: the coordinates key was used
  std::uint64_t invalid = 0;        // failed validation
  std::uint64_t dead_lettered = 0;  // acknowledged on the dead-letter topic
  std::uint64_t held = 0;           // would be dead-lettered, but no topic: commit held
};

struct SinkSample {
  std::string name;
  std::uint64_t delivered = 0;
  std::uint64_t failed_attempts = 0;
  std::size_t backlog = 0;
};

struct StatsSample {
  TimePoint at{};
  PipelineCounters pipeline;
  std::vector<SinkSample> sinks;
  std::size_t in_flight = 0;
  std::size_t partitions = 0;
  std::uint64_t commits_ok = 0;
  std::uint64_t commit_failures = 0;
};

// One line with rates since the previous sample, e.g.
// "events 15234/s (in flight 812, 12 partitions) | a 15230/s | b 15228/s | c 15101/s ..."
std::string formatRates(const StatsSample& previous, const StatsSample& current);
// Totals since start, for the log line at exit.
std::string formatTotals(const StatsSample& first, const StatsSample& last);

}  // namespace sluice
