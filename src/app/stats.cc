#include "app/stats.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace sluice {
namespace {

double perSecond(std::uint64_t before, std::uint64_t after, double seconds) {
  if (seconds <= 0) return 0;
  return static_cast<double>(after - before) / seconds;
}

}  // namespace

std::string formatRates(const StatsSample& previous, const StatsSample& current) {
  const double secs = std::chrono::duration<double>(current.at - previous.at).count();
  std::string out = fmt::format(
      "events {:.0f}/s consumed, {:.0f}/s done (in flight {}, {} partitions)",
      perSecond(previous.pipeline.consumed, current.pipeline.consumed, secs),
      perSecond(previous.pipeline.completed, current.pipeline.completed, secs),
      current.in_flight, current.partitions);
  for (std::size_t i = 0; i < current.sinks.size() && i < previous.sinks.size(); ++i) {
    const auto& c = current.sinks[i];
    out += fmt::format(" | {} {:.0f}/s (window {}, backlog {}, failed attempts {})", c.name,
                       perSecond(previous.sinks[i].delivered, c.delivered, secs), c.window,
                       c.backlog, c.failed_attempts - previous.sinks[i].failed_attempts);
  }
  return out;
}

std::string formatTotals(const StatsSample& first, const StatsSample& last) {
  const double secs = std::chrono::duration<double>(last.at - first.at).count();
  std::string out = fmt::format(
      "totals over {:.1f}s: consumed {}, done {} (dead-lettered {}, invalid {}, held {}), "
      "abandoned to next owner {}, commits {} ok / {} failed, fetched {} message bytes",
      secs, last.pipeline.consumed, last.pipeline.completed, last.pipeline.dead_lettered,
      last.pipeline.invalid, last.pipeline.held, last.pipeline.abandoned, last.commits_ok,
      last.commit_failures, last.fetched_bytes);
  for (const auto& s : last.sinks) {
    out += fmt::format(" | {} delivered {} (failed attempts {})", s.name, s.delivered,
                       s.failed_attempts);
  }
  return out;
}

void StatsLine::start() {
  first_ = last_ = sample_();
  next_ = first_.at + interval_;
}

void StatsLine::tick(TimePoint now) {
  if (interval_.count() <= 0 || now < next_) return;
  StatsSample current = sample_();
  spdlog::info("{}", formatRates(last_, current));
  last_ = std::move(current);
  next_ = last_.at + interval_;
}

}  // namespace sluice
