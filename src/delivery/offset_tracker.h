#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace sluice {

// Tracks one partition's dispatched offsets and answers which offset is safe to commit: the
// lowest offset not yet fully delivered, or one past the last dispatched offset when nothing
// is outstanding. Offsets are dispatched in increasing order (gaps allowed: compaction,
// transaction markers) and complete in any order.
class OffsetTracker {
 public:
  // Records that `offset` was handed to the sinks. Offsets must increase; a non-increasing
  // offset is refused (returns false) because accepting it could move the watermark back.
  bool dispatched(std::int64_t offset);

  // Records that every sink accepted `offset` (or it was dead-lettered). Returns false for an
  // offset that is not outstanding (already completed, or never dispatched).
  bool completed(std::int64_t offset);

  // The offset to commit, i.e. the next offset a restarted consumer must read; nullopt until
  // the first dispatch.
  std::optional<std::int64_t> committable() const;

  // One past the last dispatched offset: where reading this partition goes on; nullopt until
  // the first dispatch.
  std::optional<std::int64_t> nextToRead() const {
    return next_ >= 0 ? std::optional<std::int64_t>(next_) : std::nullopt;
  }

  std::size_t outstanding() const { return outstanding_; }
  // Offsets dispatched since the committable one (done or not): what a stuck offset holds.
  std::size_t span() const { return window_.size(); }
  std::optional<std::int64_t> lowestOutstanding() const;

 private:
  struct Slot {
    std::int64_t offset;
    bool done;
  };
  // Sorted by offset; done slots at the front are popped so the front is always outstanding.
  std::deque<Slot> window_;
  std::size_t outstanding_ = 0;
  std::int64_t next_ = -1;  // one past the last dispatched offset
};

}  // namespace sluice
