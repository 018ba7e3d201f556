#include "app/app.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <cstdlib>
#include <random>

#include "delivery/idempotency_key.h"

namespace sluice {
namespace {

constexpr int kMaxMessagesPerRound = 1000;  // keeps curl's sockets served while Kafka floods
constexpr Millis kHousekeepingInterval{100};
constexpr Millis kCloseDeadline{10'000};

std::vector<Dispatcher::SinkSettings> sinkSettings(const Config& c) {
  std::vector<Dispatcher::SinkSettings> out;
  for (const auto& s : c.sinks) out.push_back({s.name, s.max_in_flight});
  return out;
}

std::string describe(const rd_kafka_topic_partition_list_t& list) {
  std::string out;
  for (int i = 0; i < list.cnt; ++i) {
    if (!out.empty()) out += ' ';
    out += std::string(list.elems[i].topic) + "[" + std::to_string(list.elems[i].partition) + "]";
  }
  return out;
}

}  // namespace

App::App(Config config)
    : config_(std::move(config)),
      dispatcher_(loop_, sinkSettings(config_), config_.retry, std::random_device{}(),
                  [this](Event& e) { onEventDone(e); }),
      transport_(loop_, config_.sinks, dispatcher_),
      consumer_(config_.kafka, *this) {
  dispatcher_.attach(transport_);
  loop_.watch(consumer_.wakeFd(), EPOLLIN, [this](std::uint32_t) { onKafkaWake(); });
  loop_.watch(signals_.fd(), EPOLLIN, [this](std::uint32_t) { onSignal(); });
  loop_.addRoundHook([this] {
    storeOffsets();
    // librdkafka signals the fd only when its queue turns non-empty; if we stopped early
    // (round budget, back-pressure) the rest must be fetched without waiting for a signal.
    if (phase_ != Phase::kClosing) drainKafka(false);
  });
  loop_.runAfter(kHousekeepingInterval, [this] { housekeeping(); });
}

App::~App() = default;

int App::run() {
  spdlog::info("sluice {} starting: group {}, topics {}, {} sinks", SLUICE_VERSION,
               config_.kafka.group, fmt::join(config_.kafka.topics, ","), config_.sinks.size());
  first_sample_ = last_stats_ = sample();
  next_stats_ = loop_.now() + config_.stats_interval;
  loop_.run();
  spdlog::info("stopped; {}", formatTotals(first_sample_, sample()));
  return exit_code_;
}

void App::onKafkaWake() {
  consumer_.clearWake();
  if (phase_ == Phase::kClosing) {
    if (consumer_.serveClose()) loop_.stop();
    return;
  }
  drainKafka(false);
}

void App::drainKafka(bool force) {
  for (int i = 0; i < kMaxMessagesPerRound; ++i) {
    // Above the in-flight budget the partitions are paused; librdkafka then discards what it
    // had prefetched for them and fetches it again on resume, so stopping here loses nothing.
    // The housekeeping tick polls anyway (force) so rebalance and commit callbacks still run
    // and the group does not evict us.
    if (!force && dispatcher_.inFlightEvents() >= config_.max_in_flight_events) return;
    RdMessagePtr msg = consumer_.poll();
    if (!msg) return;
    handleMessage(std::move(msg));
    if (phase_ == Phase::kClosing) return;
  }
}

std::string App::idempotencyKeyFor(const rd_kafka_message_t& msg, const std::string& topic) {
  const IdempotencyConfig& ic = config_.idempotency;
  if (ic.source == KeySource::kJsonPointer) {
    const std::string_view body(static_cast<const char*>(msg.payload), msg.len);
    if (auto v = jsonPointerKey(body, ic.json_pointer)) return toSfString(*v);
  } else if (ic.source == KeySource::kHeader) {
    rd_kafka_headers_t* headers = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_message_headers(&msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, ic.header.c_str(), &value, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != nullptr) {
      return toSfString(std::string_view(static_cast<const char*>(value), size));
    }
  } else {
    return toSfString(coordinatesKey(topic, msg.partition, msg.offset));
  }
  // The configured source is missing from this record: fall back to its coordinates, which
  // are just as stable across redeliveries, and count it so operators see it happening.
  if (counters_.key_fallbacks++ == 0) {
    spdlog::warn("idempotency key source missing in {}[{}]@{}; using the record's coordinates",
                 topic, msg.partition, msg.offset);
  }
  return toSfString(coordinatesKey(topic, msg.partition, msg.offset));
}

void App::handleMessage(RdMessagePtr msg) {
  if (msg->err) {
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    spdlog::warn("kafka consume error: {}", rd_kafka_message_errstr(msg.get()));
    if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
      exit_code_ = 1;
      if (phase_ == Phase::kRunning) onSignal();
    }
    return;
  }
  const std::string topic = rd_kafka_topic_name(msg->rkt);
  PartitionStatePtr state = partitions_.find(topic, msg->partition);
  // Not dispatching leaves the offset uncommitted, so whoever owns the partition next reads
  // this record again: dropping here is safe, dispatching a revoking partition is not.
  if (!state || state->revoking || phase_ != Phase::kRunning) return;
  if (!state->offsets.dispatched(msg->offset)) {
    spdlog::warn("{}[{}]: offset {} arrived out of order; already dispatched past it", topic,
                 msg->partition, msg->offset);
    return;
  }
  auto event = std::make_unique<Event>();
  event->partition = std::move(state);
  event->offset = msg->offset;
  event->timestamp_ms = rd_kafka_message_timestamp(msg.get(), nullptr);
  event->idempotency_key = idempotencyKeyFor(*msg, topic);
  event->body = std::string_view(static_cast<const char*>(msg->payload), msg->len);
  event->received_at = loop_.now();
  event->owner = std::shared_ptr<rd_kafka_message_t>(msg.release(), &rd_kafka_message_destroy);
  ++counters_.consumed;
  dispatcher_.dispatch(std::move(event));
  if (!backpressure_paused_ && dispatcher_.inFlightEvents() >= config_.max_in_flight_events) {
    setPaused(true);
  }
}

void App::onEventDone(Event& event) {
  ++counters_.completed;
  PartitionState& p = *event.partition;
  if (p.active) p.offsets.completed(event.offset);
  if (revoke_ && p.revoking) checkRevokeDone();
  // Resume at half the budget, not just below it, so we do not flap pause/resume per event.
  if (backpressure_paused_ && phase_ == Phase::kRunning &&
      dispatcher_.inFlightEvents() <= config_.max_in_flight_events / 2) {
    setPaused(false);
  }
  if (phase_ == Phase::kDraining) checkDrained();
}

void App::storeOffsets() {
  const auto pending = partitions_.pendingStores();
  if (pending.empty()) return;
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(pending.size())));
  for (const auto& s : pending) {
    rd_kafka_topic_partition_list_add(list.get(), s.partition->topic.c_str(),
                                      s.partition->partition)
        ->offset = s.offset;
  }
  consumer_.storeOffsets(*list);
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) pending[static_cast<size_t>(i)].partition->stored = pending[static_cast<size_t>(i)].offset;
  }
}

void App::setPaused(bool paused) {
  backpressure_paused_ = paused;
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  partitions_.forEach([&](const PartitionStatePtr& p) {
    // A revoking partition stays paused until it is unassigned.
    if (p->revoking || p->paused == paused) return;
    p->paused = paused;
    rd_kafka_topic_partition_list_add(list.get(), p->topic.c_str(), p->partition);
  });
  if (list->cnt == 0) return;
  if (paused) {
    consumer_.pause(*list);
  } else {
    consumer_.resume(*list);
  }
  spdlog::debug("{} {} partitions ({} events in flight)", paused ? "paused" : "resumed", list->cnt,
                dispatcher_.inFlightEvents());
}

void App::onAssign(const rd_kafka_topic_partition_list_t& partitions) {
  consumer_.incrementalAssign(partitions);
  RdPartitionListPtr to_pause(rd_kafka_topic_partition_list_new(partitions.cnt));
  for (int i = 0; i < partitions.cnt; ++i) {
    const auto& e = partitions.elems[i];
    auto state = partitions_.add(e.topic, e.partition);
    if (backpressure_paused_ || phase_ != Phase::kRunning) {
      state->paused = true;
      rd_kafka_topic_partition_list_add(to_pause.get(), e.topic, e.partition);
    }
  }
  if (to_pause->cnt > 0) consumer_.pause(*to_pause);
  spdlog::info("assigned {} partition(s): {} (now {})", partitions.cnt, describe(partitions),
               partitions_.size());
}

void App::onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) {
  if (lost || phase_ == Phase::kClosing) {
    // Lost: another member may already own these; nothing of ours may be stored for them.
    // Closing: everything was drained or abandoned already; store what is done.
    for (int i = 0; i < partitions.cnt; ++i) {
      auto state = partitions_.find(partitions.elems[i].topic, partitions.elems[i].partition);
      if (!state) continue;
      counters_.abandoned += dispatcher_.abandon(state.get());
    }
    if (!lost) storeOffsets();
    for (int i = 0; i < partitions.cnt; ++i) {
      partitions_.remove(partitions.elems[i].topic, partitions.elems[i].partition);
    }
    consumer_.incrementalUnassign(partitions);
    spdlog::info("{} {} partition(s): {}", lost ? "lost" : "released", partitions.cnt,
                 describe(partitions));
    return;
  }
  // Defer the unassign: stop dispatching these partitions, give their in-flight deliveries
  // the drain budget to finish, then store the final offsets and unassign. librdkafka holds
  // the rebalance until we call incremental_unassign.
  PendingRevoke pending;
  pending.partitions.reset(rd_kafka_topic_partition_list_copy(&partitions));
  RdPartitionListPtr to_pause(rd_kafka_topic_partition_list_new(partitions.cnt));
  for (int i = 0; i < partitions.cnt; ++i) {
    const auto& e = partitions.elems[i];
    if (auto state = partitions_.find(e.topic, e.partition)) {
      state->revoking = true;
      if (!state->paused) {
        state->paused = true;
        rd_kafka_topic_partition_list_add(to_pause.get(), e.topic, e.partition);
      }
      pending.states.push_back(std::move(state));
    }
  }
  if (to_pause->cnt > 0) consumer_.pause(*to_pause);
  pending.deadline = loop_.runAfter(config_.kafka.drain_budget, [this] {
    if (revoke_) revoke_->deadline = 0;
    finishRevoke();
  });
  revoke_ = std::move(pending);
  spdlog::info("revoking {} partition(s): {}; draining their in-flight events",
               partitions.cnt, describe(partitions));
  checkRevokeDone();
}

void App::checkRevokeDone() {
  if (!revoke_) return;
  for (const auto& s : revoke_->states) {
    if (s->offsets.outstanding() > 0) return;
  }
  finishRevoke();
}

void App::finishRevoke() {
  if (!revoke_) return;
  PendingRevoke pending = std::move(*revoke_);
  revoke_.reset();
  if (pending.deadline != 0) loop_.cancel(pending.deadline);
  std::size_t left = 0;
  for (const auto& s : pending.states) left += dispatcher_.abandon(s.get());
  counters_.abandoned += left;
  // Store before unassigning: librdkafka refuses stores for unassigned partitions, and it
  // commits the stored offsets of the partitions it unassigns.
  storeOffsets();
  for (const auto& s : pending.states) partitions_.remove(s->topic, s->partition);
  consumer_.incrementalUnassign(*pending.partitions);
  if (left > 0) {
    spdlog::warn("released {} partition(s) after the drain budget; {} undelivered events left "
                 "for the next owner",
                 pending.partitions->cnt, left);
  } else {
    spdlog::info("released {} partition(s), drained", pending.partitions->cnt);
  }
}

void App::onSignal() {
  const int sig = signals_.take();
  if (phase_ != Phase::kRunning && sig != 0) {
    spdlog::warn("second signal ({}): exiting at once; undelivered events will be redelivered",
                 sig);
    std::_Exit(128 + sig);
  }
  if (sig != 0) {
    spdlog::info("signal {}: draining {} in-flight events (grace {} ms)", sig,
                 dispatcher_.inFlightEvents(), config_.shutdown_grace.count());
  }
  phase_ = Phase::kDraining;
  setPaused(true);
  grace_timer_ = loop_.runAfter(config_.shutdown_grace, [this] {
    grace_timer_ = 0;
    finishDrain();
  });
  checkDrained();
}

void App::checkDrained() {
  if (phase_ == Phase::kDraining && dispatcher_.inFlightEvents() == 0) finishDrain();
}

void App::finishDrain() {
  if (phase_ != Phase::kDraining) return;
  if (grace_timer_ != 0) loop_.cancel(grace_timer_);
  grace_timer_ = 0;
  const std::size_t left = dispatcher_.abandonAll();
  counters_.abandoned += left;
  if (left > 0) {
    spdlog::warn("grace period over: {} undelivered events left for redelivery", left);
  }
  finishRevoke();
  storeOffsets();
  phase_ = Phase::kClosing;
  spdlog::info("leaving the consumer group");
  consumer_.beginClose();
  loop_.runAfter(kCloseDeadline, [this] {
    spdlog::warn("consumer close did not finish in {} ms; exiting", kCloseDeadline.count());
    consumer_.abandonClose();
    loop_.stop();
  });
  if (consumer_.serveClose()) loop_.stop();
}

void App::housekeeping() {
  if (phase_ == Phase::kClosing) {
    if (consumer_.serveClose()) loop_.stop();
  } else {
    drainKafka(true);
  }
  if (config_.stats_interval.count() > 0 && loop_.now() >= next_stats_) {
    StatsSample now = sample();
    spdlog::info("{}", formatRates(last_stats_, now));
    last_stats_ = std::move(now);
    next_stats_ = loop_.now() + config_.stats_interval;
  }
  loop_.runAfter(kHousekeepingInterval, [this] { housekeeping(); });
}

StatsSample App::sample() const {
  StatsSample s;
  s.at = loop_.now();
  s.pipeline = counters_;
  s.in_flight = dispatcher_.inFlightEvents();
  s.partitions = partitions_.size();
  s.commits_ok = consumer_.counters().commits_ok;
  s.commit_failures = consumer_.counters().commit_failures;
  for (std::size_t i = 0; i < dispatcher_.sinkCount(); ++i) {
    const auto& c = dispatcher_.counters(i);
    s.sinks.push_back({dispatcher_.sinkName(i), c.delivered, c.failed_attempts,
                       dispatcher_.sinkBacklog(i)});
  }
  return s;
}

}  // namespace sluice
