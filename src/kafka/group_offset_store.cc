#include "kafka/group_offset_store.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  setConf(conf, key, value, "kafka (sink progress)");
}

// The member's handle already says when brokers come and go; these handles would say it
// again once per sink.
void logQuietly(const rd_kafka_t* rk, int, const char* facility, const char* message) {
  spdlog::debug("librdkafka {} {}: {}", rd_kafka_name(rk), facility, message);
}
void ignoreError(rd_kafka_t*, int, const char*, void*) {}

RdKafkaPtr openHandle(const KafkaConfig& kafka, const std::string& group) {
  RdConfPtr conf(rd_kafka_conf_new());
  set(conf.get(), "client.id", "sluice-progress");
  copySecurityProperties(conf.get(), kafka.properties, "kafka (sink progress)");
  set(conf.get(), "bootstrap.servers", kafka.brokers);
  set(conf.get(), "group.id", group);
  set(conf.get(), "enable.auto.commit", "false");
  set(conf.get(), "enable.auto.offset.store", "false");
  // Never joins the group: the session timeout only bounds how long a commit waits for the
  // coordinator (and so how long destroying the handle can wait for one).
  set(conf.get(), "session.timeout.ms", "6000");
  set(conf.get(), "heartbeat.interval.ms", "2000");
  set(conf.get(), "socket.timeout.ms", "10000");
  rd_kafka_conf_set_log_cb(conf.get(), &logQuietly);
  rd_kafka_conf_set_error_cb(conf.get(), &ignoreError);
  std::array<char, 512> err{};
  RdKafkaPtr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err.data(), err.size()));
  if (!rk) throw std::runtime_error("kafka handle for group " + group + ": " + err.data());
  conf.release();  // rd_kafka_new took ownership
  return rk;
}

RdPartitionListPtr copy(const rd_kafka_topic_partition_list_t& list) {
  return RdPartitionListPtr(rd_kafka_topic_partition_list_copy(&list));
}

}  // namespace

GroupOffsetAnswers::GroupOffsetAnswers() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

std::uint64_t GroupOffsetAnswers::nextRequest() {
  const std::lock_guard lock(mutex_);
  return next_request_++;
}

void GroupOffsetAnswers::post(Answer answer) {
  {
    const std::lock_guard lock(mutex_);
    answers_.push_back(std::move(answer));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

std::vector<GroupOffsetAnswers::Answer> GroupOffsetAnswers::take() {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(wake_fd_.get(), &count, sizeof count);
  const std::lock_guard lock(mutex_);
  return std::exchange(answers_, {});
}

GroupOffsetStore::GroupOffsetStore(rd_kafka_t* member, GroupOffsetAnswers& answers)
    : rk_(member), answers_(answers) {
  start();
}

GroupOffsetStore::GroupOffsetStore(const KafkaConfig& kafka, const std::string& group,
                                   GroupOffsetAnswers& answers)
    : own_(openHandle(kafka, group)), rk_(own_.get()), answers_(answers) {
  start();
}

void GroupOffsetStore::start() { thread_ = std::thread([this] { work(); }); }

GroupOffsetStore::~GroupOffsetStore() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  // Never subscribed: no group to leave. A commit still waiting for its coordinator holds
  // the destroy for at most session.timeout.ms (openHandle).
  if (own_) rd_kafka_destroy_flags(own_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

std::uint64_t GroupOffsetStore::list(const rd_kafka_topic_partition_list_t& partitions,
                                     Clock::time_point deadline) {
  const std::uint64_t request = answers_.nextRequest();
  {
    const std::lock_guard lock(mutex_);
    jobs_.push_back({request, false, copy(partitions), deadline});
  }
  wake_.notify_one();
  return request;
}

std::uint64_t GroupOffsetStore::commit(const rd_kafka_topic_partition_list_t& offsets) {
  const std::uint64_t request = answers_.nextRequest();
  {
    const std::lock_guard lock(mutex_);
    jobs_.push_back({request, true, copy(offsets), {}});
  }
  wake_.notify_one();
  return request;
}

void GroupOffsetStore::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    // The handle's own queue (logs, errors, statistics) fills unless polled: once a second.
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || !jobs_.empty(); });
    if (own_) rd_kafka_poll(rk_, 0);
    if (jobs_.empty()) {
      if (stopping_) return;
      continue;
    }
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    // Stopping: nobody waits for a read any more, but the commits queued at the last revoke
    // are a sink's final progress.
    if (stopping_ && !job.commit) continue;
    lock.unlock();
    answers_.post(job.commit ? write(job) : read(job));
    lock.lock();
  }
}

GroupOffsetAnswers::Answer GroupOffsetStore::read(Job& job) {
  GroupOffsetAnswers::Answer answer{job.request, {}, nullptr};
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(job.deadline - Clock::now());
  if (left.count() <= 0) {
    answer.error = "no time left to ask";
    return answer;
  }
  if (const auto err = rd_kafka_committed(rk_, job.partitions.get(), static_cast<int>(left.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    answer.error = rd_kafka_err2str(err);
    return answer;
  }
  answer.partitions = std::move(job.partitions);
  return answer;
}

GroupOffsetAnswers::Answer GroupOffsetStore::write(Job& job) {
  GroupOffsetAnswers::Answer answer{job.request, {}, nullptr};
  if (!own_) {
    answer.error = "commits go through the member's own handle";
    return answer;
  }
  RdQueuePtr replies(rd_kafka_queue_new(rk_));
  if (const auto err = rd_kafka_commit_queue(rk_, job.partitions.get(), replies.get(), nullptr,
                                             nullptr);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    answer.error = rd_kafka_err2str(err);
    return answer;
  }
  // librdkafka answers within socket.timeout.ms, or session.timeout.ms without a coordinator
  // (openHandle); the cap is for a case its code does not foresee.
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < give_up) {
    RdEventPtr ev(rd_kafka_queue_poll(replies.get(), 1000));
    if (ev && rd_kafka_event_type(ev.get()) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
      if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        answer.error = rd_kafka_event_error_string(ev.get());
      }
      if (const auto* offsets = rd_kafka_event_topic_partition_list(ev.get())) {
        answer.partitions = copy(*offsets);
      }
      return answer;
    }
  }
  answer.error = "no answer in 30 s";
  return answer;
}

}  // namespace sluice
