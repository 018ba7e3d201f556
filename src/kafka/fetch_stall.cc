#include "kafka/fetch_stall.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace sluice {
namespace {

// Records past the next offset, or no fetch answer yet (end unknown); or librdkafka is not
// fetching it at all, caught up or not (new records would not come).
bool wantsOrCannot(const PartitionStats& st) {
  return st.end_offset < 0 || st.next_offset < 0 || st.end_offset > st.next_offset ||
         st.fetch_state != "active" || !st.leader_up;
}

std::string describe(const PartitionStats& st) {
  const std::string state = fmt::format(
      "fetch state {}, leader {}", st.fetch_state.empty() ? "unknown" : st.fetch_state,
      st.leader_up ? "connected" : "not connected");
  if (st.end_offset < 0) return fmt::format("no fetch answer yet, {}", state);
  if (st.next_offset < 0) {
    return fmt::format("end offset {}, no fetch position, {}", st.end_offset, state);
  }
  return fmt::format("{} records behind (next offset {}, end offset {}), {}",
                     std::max<std::int64_t>(st.end_offset - st.next_offset, 0), st.next_offset,
                     st.end_offset, state);
}

}  // namespace

std::vector<FetchStallWatch::Change> FetchStallWatch::update(
    TimePoint now, const std::vector<PartitionStats>& stats, const HeldBack& held_back) {
  std::vector<Change> changes;
  std::set<std::pair<std::string, std::int32_t>> present;
  for (const auto& st : stats) {
    auto key = std::make_pair(st.topic, st.partition);
    present.insert(key);
    auto [it, added] = watches_.try_emplace(key);
    Watch& w = it->second;
    // Aborted transactions move the next offset without a message.
    const bool progressed =
        !added && (st.fetched_messages > w.fetched || st.next_offset > w.next_offset);
    w.fetched = std::max(w.fetched, st.fetched_messages);
    w.next_offset = std::max(w.next_offset, st.next_offset);
    if (added || progressed || held_back(st.topic, st.partition) || !wantsOrCannot(st)) {
      w.quiet_since = now;
      if (w.stalled) {
        w.stalled = false;
        changes.push_back({st.topic, st.partition, false, describe(st)});
      }
      continue;
    }
    if (!w.stalled && now - w.quiet_since >= after_) {
      w.stalled = true;
      changes.push_back({st.topic, st.partition, true, describe(st)});
    }
  }
  std::erase_if(watches_, [&](const auto& entry) { return !present.contains(entry.first); });
  return changes;
}

std::vector<FetchStallWatch::Change> FetchStallWatch::hold(TimePoint now,
                                                           const HeldBack& held_back) {
  std::vector<Change> changes;
  for (auto& [key, w] : watches_) {
    if (!held_back(key.first, key.second)) continue;
    w.quiet_since = now;
    if (w.stalled) {
      w.stalled = false;
      changes.push_back(
          {key.first, key.second, false, "paused, revoked, or sluice at its in-flight budget"});
    }
  }
  return changes;
}

std::size_t FetchStallWatch::stalledCount() const {
  return static_cast<std::size_t>(std::count_if(
      watches_.begin(), watches_.end(), [](const auto& entry) { return entry.second.stalled; }));
}

bool FetchStallWatch::stalled(const std::string& topic, std::int32_t partition) const {
  const auto it = watches_.find({topic, partition});
  return it != watches_.end() && it->second.stalled;
}

}  // namespace sluice
