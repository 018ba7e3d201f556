#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "delivery/event.h"
#include "kafka/dead_letter_producer.h"
#include "loop/event_loop.h"

namespace sluice {

// How dead letters that failed are retried (tests shorten it).
struct DeadLetterPacing {
  Millis first_retry{1'000};
  Millis max_retry{60'000};  // also the pace for letters the topic refuses for good
};

// The dead-letter path. An event no sink will take (invalid, refused, out of attempts) is
// produced to the dead-letter topic and is done once the topic acknowledges it. One the topic
// cannot take now (broker away, topic not there yet) is retried with backoff. One it refuses
// for good (too large even without its value, not authorized, ...) and every one when no topic
// is configured is *held*: it keeps its partition's commit back (nothing is lost), is counted
// and reported, no drain waits for it, and a refused one is still retried at the slowest pace
// in case an operator fixes the topic. A fatal error of the idempotent producer replaces the
// producer and produces again what the old one had not acknowledged.
class DeadLetters {
 public:
  using DoneCallback = std::function<void(EventPtr)>;
  // An event of this partition just became held: a drain waiting for it may be over. Called
  // from inside the call that held it, so it must only take note (the pipeline re-checks its
  // drains after routing), never abandon or send.
  using HeldCallback = std::function<void(const PartitionState&)>;

  DeadLetters(EventLoop& loop, const KafkaConfig& kafka, const DeadLetterConfig& config,
              DoneCallback on_done, HeldCallback on_held,
              DeadLetterPacing pacing = {});  // throws (bad settings)
  ~DeadLetters();
  DeadLetters(const DeadLetters&) = delete;
  DeadLetters& operator=(const DeadLetters&) = delete;

  void send(EventPtr event, DeadLetterReason why);

  // Takes back the events of `partition` (every one when null) without completing them.
  std::vector<EventPtr> abandon(const PartitionState* partition);

  std::size_t pending() const { return entries_.size(); }  // held ones included
  std::size_t held() const { return held_; }
  // Why the dead-letter topic refuses events (for /readyz); empty when it takes them, or when
  // there is none (events held for lack of a topic are the operator's choice, not a fault).
  std::string trouble() const;
  const std::map<std::string, std::uint64_t>& writtenByReason() const { return written_; }
  std::uint64_t produceAttempts() const { return attempts_; }
  std::uint64_t producersReplaced() const { return replaced_; }

  // Polls the producer: the safety net should an eventfd wake be missed.
  void poll();

  void triggerFatalErrorForTesting();

 private:
  struct Entry {
    EventPtr event;
    DeadLetterReason why;
    std::uint32_t tries = 0;
    bool held = false;
    Scheduler::TimerId retry = 0;
  };

  void startProducer();
  void produce(std::uint64_t id);
  void onAck(std::uint64_t id, rd_kafka_resp_err_t err);
  void onFailure(std::uint64_t id, rd_kafka_resp_err_t err);
  void onProducerError(rd_kafka_resp_err_t err, bool fatal, const std::string& reason);
  void replaceProducer();
  Millis replacementDelay() const;
  void hold(Entry& e, const std::string& why);
  void unhold(Entry& e);

  EventLoop& loop_;
  KafkaConfig kafka_;
  DeadLetterConfig config_;
  DoneCallback on_done_;
  HeldCallback on_held_;
  DeadLetterPacing pacing_;
  std::unique_ptr<DeadLetterProducer> producer_;
  std::uint64_t generation_ = 0;  // of producer_: acks of a replaced one are ignored
  bool replacing_ = false;
  std::uint32_t failed_replacements_ = 0;  // in a row: paces the next attempt
  TimePoint last_replacement_{};
  std::string fatal_error_;  // while a fatal producer error waits for the replacement
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::uint64_t next_id_ = 1;
  std::size_t held_ = 0;
  std::string last_refusal_;
  std::map<std::string, std::uint64_t> written_;
  std::uint64_t attempts_ = 0;
  std::uint64_t replaced_ = 0;
};

}  // namespace sluice
