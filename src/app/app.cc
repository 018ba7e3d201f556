#include "app/app.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "delivery/idempotency_key.h"

namespace sluice {
namespace {

constexpr int kMaxMessagesPerRound = 1000;  // keeps curl's sockets served while Kafka floods
constexpr Millis kHousekeepingInterval{100};
constexpr Millis kCloseDeadline{10'000};
constexpr Millis kStoreInterval{10};

std::vector<Dispatcher::SinkSettings> sinkSettings(const Config& c) {
  std::vector<Dispatcher::SinkSettings> out;
  for (const auto& s : c.sinks) {
    out.push_back({s.name, s.max_in_flight, s.retry, StatusPolicy(s.statuses), s.ordering, s.circuit_failures,
                   s.batch_max_events, s.batch_max_bytes});
  }
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

DeadLetterReason reasonFromFailures(const Event& e) {
  DeadLetterReason why;
  // One reason per record: a permanent answer explains more than running out of attempts.
  why.reason = "retries_exhausted";
  for (const auto& f : e.failures) {
    if (!why.sinks.empty()) why.sinks += ',';
    why.sinks += f.sink;
    if (std::string_view(f.reason) == "permanent_status") why.reason = f.reason;
    why.status = f.status;
    why.error = f.error;
    why.attempts = std::max(why.attempts, f.attempts);
  }
  return why;
}

}  // namespace

App::App(Config config)
    : config_(std::move(config)),
      validator_(config_.validation),
      dispatcher_(loop_, sinkSettings(config_), config_.dead_letter.enabled(),
                  std::random_device{}(), [this](EventPtr e) { onDispatched(std::move(e)); }),
      transport_(loop_, config_.sinks, dispatcher_),
      dead_letters_(loop_, config_.kafka, config_.dead_letter,
                    [this](EventPtr e) { onDeadLettered(std::move(e)); },
                    [this](const PartitionState& p) { onHeld(p); }),
      consumer_(config_.kafka, *this) {
  dispatcher_.attach(transport_);
  loop_.watch(consumer_.wakeFd(), EPOLLIN, [this](std::uint32_t) { onKafkaWake(); });
  loop_.watch(signals_.fd(), EPOLLIN, [this](std::uint32_t) { onSignal(); });
  loop_.addRoundHook([this] {
    // Storing is cheap but not free (a list and a lock per partition); commits happen on
    // commit_interval_ms anyway, so a few milliseconds of batching cost nothing.
    if (const TimePoint now = loop_.now(); now >= next_store_) {
      storeOffsets();
      next_store_ = now + kStoreInterval;
    }
    // librdkafka signals the fd only when its queue turns non-empty; if we stopped early
    // (round budget, back-pressure) the rest must be fetched without waiting for a signal.
    if (phase_ != Phase::kClosing) drainKafka(false);
  });
  loop_.runAfter(kHousekeepingInterval, [this] { housekeeping(); });
  if (!config_.metrics.listen.empty()) {
    std::vector<std::string> names;
    for (const auto& s : config_.sinks) names.push_back(s.name);
    metrics_ = std::make_unique<Metrics>(names, SLUICE_VERSION);
    dispatcher_.observeAttempts([this](std::uint32_t sink, const HttpResponse& r) {
      metrics_->observeDelivery(sink, std::chrono::duration<double>(r.elapsed).count());
    });
    status_ = std::make_unique<StatusServer>(
        loop_, config_.metrics.listen, [this](std::string_view path) { return serveStatus(path); });
  }
}

App::~App() = default;

int App::run() {
  spdlog::info("sluice {} starting: group {}, topics {}, {} sinks, dead letters {}",
               SLUICE_VERSION, config_.kafka.group, fmt::join(config_.kafka.topics, ","),
               config_.sinks.size(),
               config_.dead_letter.enabled() ? "to " + config_.dead_letter.topic
                                             : std::string("off (failing events hold commits)"));
  for (const auto& sink : config_.sinks) {
    if (!sink.tls.verify && sink.url.rfind("https://", 0) == 0) {
      spdlog::warn("sink {}: tls.verify is false: its certificate and host name are not "
                   "checked, so anyone on the path can read and answer its requests",
                   sink.name);
    }
  }
  if (status_) {
    spdlog::info("metrics, health and readiness on {} (port {})", config_.metrics.listen,
                 status_->port());
  }
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
    if (!force && over_global_limit_) return;
    RdMessagePtr msg = consumer_.poll();
    if (!msg) return;
    handleMessage(std::move(msg));
    if (phase_ == Phase::kClosing) return;
  }
}

std::string App::idempotencyKeyFor(const rd_kafka_message_t& msg, const std::string& topic) {
  const IdempotencyConfig& ic = config_.idempotency;
  std::optional<std::string_view> header;
  if (ic.source == KeySource::kHeader) {
    rd_kafka_headers_t* headers = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_message_headers(&msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, ic.header.c_str(), &value, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != nullptr) {
      header = std::string_view(static_cast<const char*>(value), size);
    }
  }
  const std::string_view body(static_cast<const char*>(msg.payload), msg.len);
  KeyDerivation k = deriveIdempotencyKey(ic, body, header, topic, msg.partition, msg.offset);
  // Count it so operators see it happening; warn once.
  if (k.fell_back && counters_.key_fallbacks++ == 0) {
    spdlog::warn("idempotency key source missing or over {} bytes in {}[{}]@{}; using the "
                 "record's coordinates",
                 kMaxSuppliedKeyBytes, topic, msg.partition, msg.offset);
  }
  return std::move(k.key);
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
  event->body = std::string_view(static_cast<const char*>(msg->payload), msg->len);
  // Validated before the key is derived: a JSON pointer key parses the event into a DOM,
  // which only an event within max_bytes and max_depth may cost. An invalid event never
  // reaches a sink, so its coordinates are key enough.
  std::optional<Invalid> invalid = validator_.check(event->body);
  event->idempotency_key = invalid ? toSfString(coordinatesKey(topic, msg->partition, msg->offset))
                                   : idempotencyKeyFor(*msg, topic);
  if (msg->key != nullptr) {
    event->kafka_key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
  }
  event->received_at = loop_.now();
  event->owner = std::shared_ptr<rd_kafka_message_t>(msg.release(), &rd_kafka_message_destroy);
  ++counters_.consumed;
  ++consumed_by_topic_[topic];
  admit(*event);

  if (invalid) {
    ++counters_.invalid;
    DeadLetterReason why;
    why.reason = invalid->reason;
    why.error = invalid->detail;
    why.where = invalid->where;
    // It is too large for sinks; it may well be too large for the dead-letter topic too.
    why.omit_value = std::string_view(invalid->reason) == "too_large";
    sendToDeadLetter(std::move(event), std::move(why));
    return;
  }
  dispatcher_.dispatch(std::move(event));
}

void App::onDispatched(EventPtr event) {
  if (!event->failures.empty()) {
    DeadLetterReason why = reasonFromFailures(*event);
    sendToDeadLetter(std::move(event), std::move(why));
    return;
  }
  complete(*event);
}

void App::complete(Event& event) {
  ++counters_.completed;
  if (metrics_ && event.timestamp_ms >= 0) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    metrics_->observeEndToEnd(static_cast<double>(std::max<std::int64_t>(0, now_ms - event.timestamp_ms)) /
                              1000.0);
  }
  PartitionState& p = *event.partition;
  if (p.active) p.offsets.completed(event.offset);
  release(event);
  if (revoke_ && p.revoking) checkRevokeDone();
  if (phase_ == Phase::kDraining) checkDrained();
}

void App::sendToDeadLetter(EventPtr event, DeadLetterReason why) {
  if (!config_.dead_letter.enabled()) ++counters_.held;
  dead_letters_.send(std::move(event), std::move(why));
}

void App::onHeld(const PartitionState& p) {
  // Held events never finish by themselves: a drain that waited only for them is over.
  if (revoke_ && p.revoking) checkRevokeDone();
  if (phase_ == Phase::kDraining) checkDrained();
}

void App::onDeadLettered(EventPtr event) {
  ++counters_.dead_lettered;
  complete(*event);
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
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      pending[i].partition->stored = pending[i].offset;
    }
  }
}

void App::admit(Event& event) {
  ++in_flight_events_;
  in_flight_bytes_ += event.accountedBytes();
  PartitionState& p = *event.partition;
  ++p.in_flight_events;
  p.in_flight_bytes += event.accountedBytes();
  updateGlobalLimit();
  updatePartitionLimit(p);
}

void App::release(const Event& event) {
  --in_flight_events_;
  in_flight_bytes_ -= event.accountedBytes();
  PartitionState& p = *event.partition;
  --p.in_flight_events;
  p.in_flight_bytes -= event.accountedBytes();
  updateGlobalLimit();
  if (p.active) updatePartitionLimit(p);
}

// High and low marks: pause at the limit, resume at half of it, so that pause and resume do
// not flap with every event.
void App::updateGlobalLimit() {
  const BackpressureConfig& b = config_.backpressure;
  const std::uint64_t bytes = inFlightBytes();
  const bool over = in_flight_events_ >= b.max_events || bytes >= b.max_bytes;
  const bool under = in_flight_events_ <= b.max_events / 2 && bytes <= b.max_bytes / 2;
  if (!over_global_limit_ && over) {
    over_global_limit_ = true;
    reconcileAllPauses();
  } else if (over_global_limit_ && under) {
    over_global_limit_ = false;
    reconcileAllPauses();
  }
}

void App::updatePartitionLimit(PartitionState& p) {
  const BackpressureConfig& b = config_.backpressure;
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
    reconcilePause({&p});
  }
}

bool App::wantsPause(const PartitionState& p) const {
  return phase_ != Phase::kRunning || p.revoking || over_global_limit_ || p.over_limit;
}

void App::reconcilePause(const std::vector<PartitionState*>& partitions) {
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
  if (pause->cnt > 0) consumer_.pause(*pause);
  if (resume->cnt > 0) consumer_.resume(*resume);
  if (pause->cnt + resume->cnt > 0) {
    spdlog::debug("paused {} / resumed {} partitions ({} events, {} bytes in flight)", pause->cnt,
                  resume->cnt, in_flight_events_, inFlightBytes());
  }
}

void App::reconcileAllPauses() {
  std::vector<PartitionState*> all;
  partitions_.forEach([&](const PartitionStatePtr& p) { all.push_back(p.get()); });
  reconcilePause(all);
}

std::size_t App::abandon(const PartitionState* partition) {
  std::vector<EventPtr> dropped =
      partition ? dispatcher_.abandon(partition) : dispatcher_.abandonAll();
  for (auto& e : dead_letters_.abandon(partition)) dropped.push_back(std::move(e));
  for (const auto& e : dropped) release(*e);
  counters_.abandoned += dropped.size();
  // Those may have been the last events a drain was waiting for (finishDrain itself abandons
  // while still in kDraining; checkDrained ignores it then since finishDrain already runs).
  if (!finishing_drain_) checkDrained();
  return dropped.size();
}

void App::onAssign(const rd_kafka_topic_partition_list_t& partitions) {
  consumer_.incrementalAssign(partitions);
  joined_ = true;
  if (partitions.cnt > 0) {
    // librdkafka 2.0 keeps an application pause across unassign and a later re-assign of the
    // same partition (librdkafka#1849): a partition sluice paused while revoking it would
    // come back paused and never be read again. Start every assigned partition resumed; the
    // pauses sluice wants now are applied just below.
    RdPartitionListPtr fresh(rd_kafka_topic_partition_list_copy(&partitions));
    consumer_.resume(*fresh);
  }
  std::vector<PartitionState*> added;
  for (int i = 0; i < partitions.cnt; ++i) {
    added.push_back(partitions_.add(partitions.elems[i].topic, partitions.elems[i].partition).get());
  }
  reconcilePause(added);  // re-applies a pause sluice is in the middle of
  // Cooperative rebalances end with an assign call that may add nothing.
  if (partitions.cnt == 0) return;
  spdlog::info("assigned {} partition(s): {} (now {})", partitions.cnt, describe(partitions),
               partitions_.size());
}

void App::onRevoke(const rd_kafka_topic_partition_list_t& partitions, bool lost) {
  if (lost || phase_ == Phase::kClosing) {
    // Lost: another member may already own these; nothing of ours may be stored for them.
    // Closing: everything was drained or abandoned already; store what is done.
    for (int i = 0; i < partitions.cnt; ++i) {
      auto state = partitions_.find(partitions.elems[i].topic, partitions.elems[i].partition);
      if (state) abandon(state.get());
    }
    if (!lost) storeOffsets();
    for (int i = 0; i < partitions.cnt; ++i) {
      partitions_.remove(partitions.elems[i].topic, partitions.elems[i].partition);
      if (revoke_) revoke_->remove(partitions.elems[i].topic, partitions.elems[i].partition);
    }
    consumer_.incrementalUnassign(partitions);
    spdlog::info("{} {} partition(s): {}", lost ? "lost" : "released", partitions.cnt,
                 describe(partitions));
    return;
  }
  // Defer the unassign: stop dispatching these partitions, give their in-flight deliveries
  // the drain budget to finish, then store the final offsets and unassign. librdkafka holds
  // the rebalance until we call incremental_unassign.
  std::vector<PartitionStatePtr> states;
  std::vector<PartitionState*> revoking;
  for (int i = 0; i < partitions.cnt; ++i) {
    const auto& e = partitions.elems[i];
    if (auto state = partitions_.find(e.topic, e.partition)) {
      state->revoking = true;
      revoking.push_back(state.get());
      states.push_back(std::move(state));
    }
  }
  reconcilePause(revoking);
  if (revoke_) {
    spdlog::warn("revoking {} more partition(s) while a revoke is pending: {}; one unassign "
                 "for both, within the first one's drain budget",
                 partitions.cnt, describe(partitions));
  } else {
    revoke_.emplace();
    revoke_deadline_ = loop_.runAfter(config_.kafka.drain_budget, [this] {
      revoke_deadline_ = 0;
      finishRevoke();
    });
    spdlog::info("revoking {} partition(s): {}; draining their in-flight events",
                 partitions.cnt, describe(partitions));
  }
  revoke_->add(partitions, states);
  checkRevokeDone();
}

void App::checkRevokeDone() {
  if (revoke_ && revoke_->drained()) finishRevoke();
}

void App::finishRevoke() {
  if (!revoke_) return;
  PendingRevoke pending = std::move(*revoke_);
  revoke_.reset();
  if (revoke_deadline_ != 0) loop_.cancel(revoke_deadline_);
  revoke_deadline_ = 0;
  std::size_t left = 0;
  for (const auto& s : pending.states()) left += abandon(s.get());
  // Store before unassigning: librdkafka refuses stores for unassigned partitions, and it
  // commits the stored offsets of the partitions it unassigns.
  storeOffsets();
  for (const auto& s : pending.states()) {
    if (partitions_.find(s->topic, s->partition) == s) partitions_.remove(s->topic, s->partition);
  }
  if (!pending.empty()) consumer_.incrementalUnassign(pending.partitions());
  const int count = pending.partitions().cnt;
  if (left > 0) {
    spdlog::warn("released {} partition(s) with {} undelivered or held events left for the "
                 "next owner",
                 count, left);
  } else {
    spdlog::info("released {} partition(s), drained", count);
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
    spdlog::info("signal {}: draining {} in-flight events (grace {} ms)", sig, in_flight_events_,
                 config_.shutdown_grace.count());
  }
  phase_ = Phase::kDraining;
  reconcileAllPauses();
  grace_timer_ = loop_.runAfter(config_.shutdown_grace, [this] {
    grace_timer_ = 0;
    finishDrain();
  });
  checkDrained();
}

void App::checkDrained() {
  // Held events can never finish by themselves; they must not delay the exit.
  if (phase_ == Phase::kDraining && in_flight_events_ == dead_letters_.held()) finishDrain();
}

void App::finishDrain() {
  if (phase_ != Phase::kDraining || finishing_drain_) return;
  finishing_drain_ = true;
  if (grace_timer_ != 0) loop_.cancel(grace_timer_);
  grace_timer_ = 0;
  finishRevoke();
  const std::size_t left = abandon(nullptr);
  if (left > 0) {
    spdlog::warn("stopping with {} undelivered events; they will be redelivered", left);
  }
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
  // The eventfd wakes us for delivery reports; this is the safety net should one be missed.
  dead_letters_.poll();
  if (config_.stats_interval.count() > 0 && loop_.now() >= next_stats_) {
    StatsSample now = sample();
    spdlog::info("{}", formatRates(last_stats_, now));
    last_stats_ = std::move(now);
    next_stats_ = loop_.now() + config_.stats_interval;
  }
  loop_.runAfter(kHousekeepingInterval, [this] { housekeeping(); });
}

StatusServer::Response App::serveStatus(std::string_view path) {
  StatusServer::Response r;
  if (path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_->render(metricsSnapshot());
  } else if (path == "/healthz") {
    // Answered by the loop thread itself: if this arrives, the loop is turning.
    r.body = "ok\n";
  } else if (path == "/readyz") {
    const std::string dead_letter_trouble = dead_letters_.trouble();
    const bool ready = phase_ == Phase::kRunning && dead_letter_trouble.empty() &&
                       (partitions_.size() > 0 ||
                        (joined_ && config_.metrics.ready_without_partitions));
    r.status = ready ? 200 : 503;
    r.body = ready                             ? "ready\n"
             : phase_ != Phase::kRunning       ? "stopping\n"
             : !dead_letter_trouble.empty()    ? dead_letter_trouble + "\n"
                                               : "no partitions assigned yet\n";
  } else {
    r.status = 404;
    r.body = "try /metrics, /healthz or /readyz\n";
  }
  return r;
}

MetricsSnapshot App::metricsSnapshot() const {
  MetricsSnapshot s;
  const TimePoint now = loop_.now();
  for (std::size_t i = 0; i < dispatcher_.sinkCount(); ++i) {
    const auto& c = dispatcher_.counters(i);
    MetricsSnapshot::Sink k;
    k.accepted = c.delivered;
    k.failed_attempts = c.failed_attempts;
    k.gave_up = c.gave_up;
    k.attempts = c.attempts;
    k.in_flight_requests = dispatcher_.sinkInFlight(i);
    k.backlog_events = dispatcher_.sinkBacklog(i);
    k.backlog_bytes = dispatcher_.sinkBacklogBytes(i);
    if (auto oldest = dispatcher_.oldestPending(i)) {
      k.oldest_undelivered_seconds = std::chrono::duration<double>(now - *oldest).count();
    }
    k.circuit_open = dispatcher_.circuitOpen(i);
    s.sinks.push_back(k);
  }
  partitions_.forEach([&](const PartitionStatePtr& p) {
    MetricsSnapshot::Partition out{p->topic, p->partition, p->stored, p->paused};
    for (const auto& st : consumer_.partitionStats()) {
      if (st.partition == p->partition && st.topic == p->topic) {
        out.lag = st.lag;
        out.committed = st.committed;
      }
    }
    s.partitions.push_back(std::move(out));
  });
  s.consumed_by_topic.insert(consumed_by_topic_.begin(), consumed_by_topic_.end());
  s.dead_letters_by_reason = dead_letters_.writtenByReason();
  s.in_flight_events = in_flight_events_;
  s.in_flight_bytes = inFlightBytes();
  s.held_events = dead_letters_.held();
  s.rebalances = consumer_.counters().rebalances;
  s.commit_failures = consumer_.counters().commit_failures;
  return s;
}

StatsSample App::sample() const {
  StatsSample s;
  s.at = loop_.now();
  s.pipeline = counters_;
  s.in_flight = in_flight_events_;
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
