#include "sluice_log.h"

#include <ctime>
#include <regex>

namespace sluice::testing {
namespace {

// sluice stamps its text log lines "2026-12-03T15:19:29.379" in local time (spdlog's default).
std::int64_t stampMicros(const std::string& stamp) {
  std::tm tm{};
  if (::strptime(stamp.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  tm.tm_isdst = -1;
  const std::int64_t seconds = std::mktime(&tm);
  const auto dot = stamp.find('.');
  const std::int64_t millis = dot == std::string::npos ? 0 : std::stoll(stamp.substr(dot + 1, 3));
  return seconds * 1'000'000 + millis * 1'000;
}

std::set<std::int32_t> partitionNumbers(const std::string& list) {
  static const std::regex kPartition("\\[([0-9]+)\\]");
  std::set<std::int32_t> out;
  for (auto p = std::sregex_iterator(list.begin(), list.end(), kPartition);
       p != std::sregex_iterator(); ++p) {
    out.insert(std::stoi((*p)[1].str()));
  }
  return out;
}

}  // namespace

std::set<std::int32_t> partitionsLogged(const std::string& log, const std::string& line) {
  const std::regex pattern(line);
  std::set<std::int32_t> out;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), pattern);
       it != std::sregex_iterator(); ++it) {
    out.merge(partitionNumbers((*it)[1].str()));
  }
  return out;
}

std::vector<LoggedAssignment> assignmentsLogged(const std::string& log) {
  static const std::regex kAssigned(
      "(?:^|\\n)([0-9-]+T[0-9:.]+) [a-z]+ assigned [0-9]+ partition\\(s\\)(:[^(\\n]*)?");
  std::vector<LoggedAssignment> out;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kAssigned);
       it != std::sregex_iterator(); ++it) {
    out.push_back({stampMicros((*it)[1].str()), partitionNumbers((*it)[2].str())});
  }
  return out;
}

bool assignedAtLeast(const std::string& log, std::size_t min) {
  for (const auto& a : assignmentsLogged(log)) {
    if (a.partitions.size() >= min) return true;
  }
  return false;
}

}  // namespace sluice::testing
