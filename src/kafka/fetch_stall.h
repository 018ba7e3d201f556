#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kafka/consumer_statistics.h"
#include "loop/event_loop.h"

namespace sluice {

// Notices an assigned partition that librdkafka stopped fetching: once, one partition of 12
// delivered nothing for ten minutes while the other 11 were done, with nothing paused and no
// error, and nothing said so. Nothing is lost then (its offsets stay uncommitted), but a
// silent stall is what sluice exists to prevent, so it is made loud: a warning and a metric.
//
// A partition is stalled when, for `after`, sluice held nothing back from it (not paused, and
// reading), librdkafka neither fetched a message for it nor moved its next offset, and it had
// something to fetch or could not: its end offset from the last fetch answer is past the next
// offset, or it never had a fetch answer, or its fetch state is not "active", or its leader
// is no broker librdkafka is connected to. Judged from librdkafka's statistics (every
// statistics.interval.ms); what sluice holds back is checked more often (hold()).
class FetchStallWatch {
 public:
  static constexpr std::chrono::seconds kDefaultAfter{30};

  struct Change {
    std::string topic;
    std::int32_t partition;
    bool stalled;        // true: it stalled now; false: it fetches again (or is held now)
    std::string detail;  // what the statistics said, for the log
  };
  // Whether sluice holds the partition back itself (paused, or not reading at all).
  using HeldBack = std::function<bool(const std::string& topic, std::int32_t partition)>;

  explicit FetchStallWatch(std::chrono::milliseconds after = kDefaultAfter) : after_(after) {}

  // `stats`: a new statistics report. Partitions no longer in it are forgotten.
  std::vector<Change> update(TimePoint now, const std::vector<PartitionStats>& stats,
                             const HeldBack& held_back);
  // Between reports: what sluice holds back now starts its quiet time again (a partition
  // paused for most of a report interval was not quiet on librdkafka's account).
  std::vector<Change> hold(TimePoint now, const HeldBack& held_back);

  std::size_t stalledCount() const;
  bool stalled(const std::string& topic, std::int32_t partition) const;

 private:
  struct Watch {
    std::uint64_t fetched = 0;
    std::int64_t next_offset = -1;
    TimePoint quiet_since{};  // since when it wanted records and got none
    bool stalled = false;
  };
  std::chrono::milliseconds after_;
  std::map<std::pair<std::string, std::int32_t>, Watch> watches_;
};

}  // namespace sluice
