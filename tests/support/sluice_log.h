#pragma once

// What the tests read back from a sluice log: the partitions it was assigned or gave away,
// and when.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace sluice::testing {

// The partition numbers listed ("topic[3] topic[5] ...") in the first group of every match of
// `line` (a regular expression) in a sluice log.
std::set<std::int32_t> partitionsLogged(const std::string& log, const std::string& line);

// One "assigned N partition(s): ..." line of a sluice log.
struct LoggedAssignment {
  std::int64_t at_us = 0;  // the line's time stamp, unix micros (millisecond resolution)
  std::set<std::int32_t> partitions;
};
// Every assignment the log shows, empty ones included (a cooperative rebalance hands those
// out too), in order.
std::vector<LoggedAssignment> assignmentsLogged(const std::string& log);
// True once the log shows an assignment of at least `min` partitions in one go.
bool assignedAtLeast(const std::string& log, std::size_t min);

}  // namespace sluice::testing
