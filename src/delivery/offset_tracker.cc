#include "delivery/offset_tracker.h"

#include <algorithm>

namespace sluice {

bool OffsetTracker::dispatched(std::int64_t offset) {
  if (offset < 0 || offset < next_) return false;
  window_.push_back({offset, false});
  ++outstanding_;
  next_ = offset + 1;
  return true;
}

bool OffsetTracker::completed(std::int64_t offset) {
  auto it = std::lower_bound(window_.begin(), window_.end(), offset,
                             [](const Slot& s, std::int64_t o) { return s.offset < o; });
  if (it == window_.end() || it->offset != offset || it->done) return false;
  it->done = true;
  --outstanding_;
  while (!window_.empty() && window_.front().done) window_.pop_front();
  return true;
}

std::optional<std::int64_t> OffsetTracker::committable() const {
  if (next_ < 0) return std::nullopt;
  if (window_.empty()) return next_;
  return window_.front().offset;
}

std::optional<std::int64_t> OffsetTracker::lowestOutstanding() const {
  if (window_.empty()) return std::nullopt;
  return window_.front().offset;
}

}  // namespace sluice
