#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loop/event_loop.h"
#include "pipeline/counters.h"

namespace sluice {

struct SinkSample {
  std::string name;
  std::uint64_t delivered = 0;
  std::uint64_t failed_attempts = 0;
  std::size_t backlog = 0;
  std::uint32_t window = 0;  // the concurrency limit: requests it may have in flight
};

struct StatsSample {
  TimePoint at{};
  PipelineCounters pipeline;
  std::vector<SinkSample> sinks;
  std::size_t in_flight = 0;
  std::size_t partitions = 0;
  std::uint64_t commits_ok = 0;
  std::uint64_t commit_failures = 0;
  std::uint64_t fetched_bytes = 0;  // message bytes fetched from Kafka (statistics)
};

// One line with rates since the previous sample, e.g.
// "events 15234/s ... (in flight 812, 12 partitions) | a 15230/s (window 24, backlog 3, ...) ..."
std::string formatRates(const StatsSample& previous, const StatsSample& current);
// Totals since start, for the log line at exit.
std::string formatTotals(const StatsSample& first, const StatsSample& last);

// The periodic stats line (stats_interval_ms; 0: none) and the totals logged at exit.
class StatsLine {
 public:
  StatsLine(Millis interval, std::function<StatsSample()> sample)
      : interval_(interval), sample_(std::move(sample)) {}

  void start();
  void tick(TimePoint now);  // logs the rates since the last line, when one is due
  std::string totals() const { return formatTotals(first_, sample_()); }

 private:
  Millis interval_;
  std::function<StatsSample()> sample_;
  StatsSample first_;
  StatsSample last_;
  TimePoint next_{};
};

}  // namespace sluice
