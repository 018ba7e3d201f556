#include "pipeline/dead_letters.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <algorithm>

namespace sluice {
namespace {

enum class Failure { kRetry, kTooLarge, kRefused, kFatal };

// What a failed produce means for the letter. Only errors that no retry of the same record
// can cure are refusals; anything else (the broker away, a leader moving, the topic not yet
// created, an error this list does not know) is retried, since a refusal holds the event.
Failure classify(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return Failure::kTooLarge;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return Failure::kRefused;
    case RD_KAFKA_RESP_ERR__FATAL:
      return Failure::kFatal;
    default:
      return Failure::kRetry;
  }
}

DeadLetterSource sourceOf(const Event& e) {
  DeadLetterSource s;
  s.topic = e.partition->topic;
  s.partition = e.partition->partition;
  s.offset = e.offset;
  s.timestamp_ms = e.timestamp_ms;
  s.value = e.body;
  s.key = e.kafka_key;
  s.headers = e.record_headers.get();
  return s;
}

}  // namespace

DeadLetters::DeadLetters(EventLoop& loop, const KafkaConfig& kafka, const DeadLetterConfig& config,
                         DoneCallback on_done, HeldCallback on_held, DeadLetterPacing pacing)
    : loop_(loop),
      kafka_(kafka),
      config_(config),
      on_done_(std::move(on_done)),
      on_held_(std::move(on_held)),
      pacing_(pacing) {
  if (config_.enabled()) startProducer();
}

DeadLetters::~DeadLetters() {
  if (producer_) loop_.unwatch(producer_->wakeFd());
  for (auto& [id, e] : entries_) {
    if (e.retry != 0) loop_.cancel(e.retry);
  }
}

void DeadLetters::startProducer() {
  const std::uint64_t generation = ++generation_;
  producer_ = std::make_unique<DeadLetterProducer>(
      kafka_, config_,
      [this, generation](std::uint64_t id, rd_kafka_resp_err_t err) {
        if (generation == generation_) onAck(id, err);
      },
      [this, generation](rd_kafka_resp_err_t err, bool fatal, const std::string& reason) {
        if (generation == generation_) onProducerError(err, fatal, reason);
      });
  loop_.watch(producer_->wakeFd(), EPOLLIN, [this](std::uint32_t) { producer_->serve(); });
}

void DeadLetters::send(EventPtr event, DeadLetterReason why) {
  const std::uint64_t id = next_id_++;
  Entry& e = entries_.emplace(id, Entry{std::move(event), std::move(why)}).first->second;
  if (replacing_) return;  // produced by the new producer as soon as it exists
  if (!config_.enabled()) {
    // Nowhere to put it and it must not be dropped: keep it outstanding, which holds its
    // partition's commit (and, through the in-flight limits, eventually its consumption).
    const Event& ev = *e.event;
    spdlog::error("{}[{}]@{} is {} ({}{}{}) and no dead_letter topic is configured; holding it: "
                  "its partition's commit waits",
                  ev.partition->topic, ev.partition->partition, ev.offset, e.why.reason,
                  e.why.error, e.why.where.empty() ? "" : " at ", e.why.where);
    hold(e, "");
    return;
  }
  produce(id);
}

void DeadLetters::produce(std::uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || !producer_ || replacing_) return;
  Entry& e = it->second;
  e.retry = 0;
  ++e.tries;
  ++attempts_;
  const rd_kafka_resp_err_t err = producer_->produce(id, sourceOf(*e.event), e.why);
  if (err) onFailure(id, err);
}

void DeadLetters::onAck(std::uint64_t id, rd_kafka_resp_err_t err) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;  // its partition was revoked meanwhile
  if (err) {
    onFailure(id, err);
    return;
  }
  Entry& e = it->second;
  if (e.held) {
    spdlog::info("{}[{}]@{}: written to the dead-letter topic after {} tries",
                 e.event->partition->topic, e.event->partition->partition, e.event->offset,
                 e.tries);
    unhold(e);
  }
  ++written_[e.why.reason];
  EventPtr event = std::move(e.event);
  entries_.erase(it);
  on_done_(std::move(event));
}

void DeadLetters::onFailure(std::uint64_t id, rd_kafka_resp_err_t err) {
  Entry& e = entries_.at(id);
  const Event& ev = *e.event;
  const Failure failure = classify(err);
  if (failure == Failure::kTooLarge && !e.why.omit_key_and_headers) {
    // Retrying the same record would fail forever; keep the reason and coordinates, and drop
    // the value (its size goes in sluice.value_omitted), then the original key and headers.
    if (e.why.omit_value) e.why.omit_key_and_headers = true;
    e.why.omit_value = true;
    produce(id);  // at most two levels deep: each step sets a flag
    return;
  }
  if (failure == Failure::kFatal) {
    // The producer's own error callback replaces it; the letter goes again with the new one.
    onProducerError(err, true, rd_kafka_err2str(err));
    return;
  }
  const bool refused = failure != Failure::kRetry;
  if (refused && !e.held) {
    hold(e, std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err) +
                (failure == Failure::kTooLarge ? " (even without the value, key and headers)"
                                               : ""));
    spdlog::error("dead-letter topic {} refuses {}[{}]@{} ({}); holding it, its partition's "
                  "commit waits; retrying every {} ms",
                  config_.topic, ev.partition->topic, ev.partition->partition, ev.offset,
                  last_refusal_, pacing_.max_retry.count());
  }
  // Doubling from the first pace to the slowest; a refused letter goes at the slowest.
  Millis delay = pacing_.max_retry;
  if (!refused) {
    const std::uint32_t doublings = std::min<std::uint32_t>(e.tries - 1, 20);
    delay = std::min(pacing_.max_retry, Millis(pacing_.first_retry.count() << doublings));
    if (e.tries == 1 || e.tries % 10 == 0) {
      spdlog::warn("dead letter for {}[{}]@{} failed ({}), try {}; retrying in {} ms",
                   ev.partition->topic, ev.partition->partition, ev.offset, rd_kafka_err2str(err),
                   e.tries, delay.count());
    }
  }
  e.retry = loop_.runAfter(delay, [this, id] { produce(id); });
}

void DeadLetters::onProducerError(rd_kafka_resp_err_t err, bool fatal, const std::string& reason) {
  if (!fatal) {
    spdlog::warn("dead-letter producer: {} ({})", reason, rd_kafka_err2name(err));
    return;
  }
  if (replacing_) return;
  replacing_ = true;
  // A new producer that fails again soon is paced like a failed replacement.
  if (replaced_ > 0 && loop_.now() - last_replacement_ < pacing_.max_retry) {
    ++failed_replacements_;
  } else {
    failed_replacements_ = 0;
  }
  fatal_error_ = std::string(rd_kafka_err2name(err)) + ": " + reason;
  spdlog::error("dead-letter producer: fatal error ({}); replacing it and producing its {} "
                "unacknowledged letter(s) again",
                fatal_error_, entries_.size());
  // Not here: this runs inside the producer's own poll. Paced like a retry when the last
  // replacement failed too, so a producer that keeps failing cannot spin the loop.
  loop_.runAfter(replacementDelay(), [this] { replaceProducer(); });
}

Millis DeadLetters::replacementDelay() const {
  if (failed_replacements_ == 0) return Millis(0);
  const std::uint32_t doublings = std::min<std::uint32_t>(failed_replacements_ - 1, 20);
  return std::min(pacing_.max_retry, Millis(pacing_.first_retry.count() << doublings));
}

void DeadLetters::replaceProducer() {
  if (producer_) {
    loop_.unwatch(producer_->wakeFd());
    producer_.reset();
  }
  try {
    startProducer();
  } catch (const std::exception& e) {
    // Its settings were good at start-up; whatever this is (no descriptors, a certificate
    // file in the middle of a rotation) may pass.
    ++failed_replacements_;
    spdlog::error("dead-letter producer: cannot create a new one ({}); trying again in {} ms",
                  e.what(), replacementDelay().count());
    loop_.runAfter(replacementDelay(), [this] { replaceProducer(); });
    return;
  }
  ++replaced_;
  last_replacement_ = loop_.now();
  replacing_ = false;
  fatal_error_.clear();
  std::vector<std::uint64_t> ids;
  for (auto& [id, e] : entries_) {
    if (e.retry != 0) loop_.cancel(e.retry);
    e.retry = 0;
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());  // oldest first: they hold the commits back
  for (const std::uint64_t id : ids) produce(id);
}

void DeadLetters::hold(Entry& e, const std::string& why) {
  e.held = true;
  ++held_;
  ++e.event->partition->held_events;
  if (!why.empty()) last_refusal_ = why;
  if (on_held_) on_held_(*e.event->partition);
}

void DeadLetters::unhold(Entry& e) {
  if (!e.held) return;
  e.held = false;
  --held_;
  --e.event->partition->held_events;
}

std::vector<EventPtr> DeadLetters::abandon(const PartitionState* partition) {
  std::vector<EventPtr> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (partition != nullptr && e.event->partition.get() != partition) {
      ++it;
      continue;
    }
    if (e.retry != 0) loop_.cancel(e.retry);
    unhold(e);
    out.push_back(std::move(e.event));
    it = entries_.erase(it);
  }
  return out;
}

std::string DeadLetters::trouble() const {
  if (!fatal_error_.empty()) return "dead-letter producer failed: " + fatal_error_;
  if (!producer_ || held_ == 0) return {};
  return "dead-letter topic " + config_.topic + " refuses " + std::to_string(held_) +
         " event(s): " + last_refusal_;
}

void DeadLetters::poll() {
  if (producer_) producer_->serve();
}

void DeadLetters::triggerFatalErrorForTesting() {
  if (producer_) producer_->triggerFatalErrorForTesting();
}

}  // namespace sluice
