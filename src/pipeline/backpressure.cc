#include "pipeline/backpressure.h"

#include <spdlog/spdlog.h>

#include "kafka/rd_handles.h"

namespace sluice {

Backpressure::Backpressure(const BackpressureConfig& config, PartitionRegistry& partitions,
                           PausePort pause, ExtraBytes extra_bytes)
    : config_(config),
      partitions_(partitions),
      pause_(std::move(pause)),
      extra_bytes_(std::move(extra_bytes)) {}

void Backpressure::admit(Event& event) {
  event.accounted = event.accountedBytes();
  ++in_flight_events_;
  in_flight_bytes_ += event.accounted;
  PartitionState& p = *event.partition;
  ++p.in_flight_events;
  p.in_flight_bytes += event.accounted;
  updateGlobalLimit();
  updatePartitionLimit(p);
}

void Backpressure::resize(Event& event) {
  const std::uint64_t now = event.accountedBytes();
  if (now == event.accounted) return;
  PartitionState& p = *event.partition;
  in_flight_bytes_ = in_flight_bytes_ - event.accounted + now;
  p.in_flight_bytes = p.in_flight_bytes - event.accounted + now;
  event.accounted = now;
  updateGlobalLimit();
  if (p.active) updatePartitionLimit(p);
}

void Backpressure::release(const Event& event) {
  --in_flight_events_;
  in_flight_bytes_ -= event.accounted;
  PartitionState& p = *event.partition;
  --p.in_flight_events;
  p.in_flight_bytes -= event.accounted;
  updateGlobalLimit();
  if (p.active) updatePartitionLimit(p);
}

void Backpressure::stopIntake() {
  stopped_ = true;
  reconcileAll();
}

// High and low marks: stop reading at the limit and read again at 90% of it; once paused,
// resume at half, so that pause and resume do not flap.
void Backpressure::updateGlobalLimit() {
  const BackpressureConfig& b = config_;
  const std::uint64_t bytes = inFlightBytes();
  const bool over = in_flight_events_ >= b.max_events || bytes >= b.max_bytes;
  const bool room = in_flight_events_ <= b.max_events / 10 * 9 && bytes <= b.max_bytes / 10 * 9;
  const bool half = in_flight_events_ <= b.max_events / 2 && bytes <= b.max_bytes / 2;
  if (!over_global_limit_ && over) {
    over_global_limit_ = true;
    full_since_ = TimePoint{};  // tick() starts the clock
  } else if (over_global_limit_ && room) {
    over_global_limit_ = false;
  }
  if (global_paused_ && half) {
    global_paused_ = false;
    reconcileAll();
  }
}

void Backpressure::tick(TimePoint now) {
  if (!over_global_limit_ || global_paused_) return;
  if (full_since_ == TimePoint{}) {
    full_since_ = now;
    return;
  }
  if (now - full_since_ < kPauseAfter) return;
  spdlog::debug("in-flight budget full for {} ms: pausing every partition", kPauseAfter.count());
  global_paused_ = true;
  reconcileAll();
}

void Backpressure::updatePartitionLimit(PartitionState& p) {
  const BackpressureConfig& b = config_;
  // The uncommitted span counts too: behind one stuck offset every later completion keeps a
  // slot in the tracker, which nothing else here would bound.
  const std::size_t span = p.offsets.span();
  const bool over = p.in_flight_events >= b.partition_max_events ||
                    p.in_flight_bytes >= b.partition_max_bytes ||
                    span >= b.partition_max_uncommitted;
  const bool under = p.in_flight_events <= b.partition_max_events / 2 &&
                     p.in_flight_bytes <= b.partition_max_bytes / 2 &&
                     span <= b.partition_max_uncommitted / 2;
  if ((!p.over_limit && over) || (p.over_limit && under)) {
    p.over_limit = over;
    reconcile({&p});
  }
}

bool Backpressure::wantsPause(const PartitionState& p) const {
  return stopped_ || global_paused_ || p.over_limit;
}

void Backpressure::reconcile(const std::vector<PartitionState*>& partitions) {
  RdPartitionListPtr pause(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  RdPartitionListPtr resume(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (PartitionState* p : partitions) {
    if (!p->active) continue;
    const bool want = wantsPause(*p);
    if (want == p->paused) continue;
    p->paused = want;
    rd_kafka_topic_partition_list_add(want ? pause.get() : resume.get(), p->topic.c_str(),
                                      p->partition);
  }
  if (pause->cnt > 0) pause_(*pause, true);
  if (resume->cnt > 0) pause_(*resume, false);
  if (pause->cnt + resume->cnt > 0) {
    spdlog::debug("paused {} / resumed {} partitions ({} events, {} bytes in flight)", pause->cnt,
                  resume->cnt, in_flight_events_, inFlightBytes());
  }
}

void Backpressure::reconcileAll() {
  std::vector<PartitionState*> all;
  partitions_.forEach([&](const PartitionStatePtr& p) { all.push_back(p.get()); });
  reconcile(all);
}

}  // namespace sluice
