#include "kafka/kafka_consumer.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace sluice {
namespace {

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  setConf(conf, key, value, "kafka");
}


}  // namespace

KafkaConsumer::KafkaConsumer(const KafkaConfig& config, RebalanceListener& listener)
    : listener_(listener), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  RdConfPtr conf(rd_kafka_conf_new());
  // Defaults a user may override under kafka.properties.
  set(conf.get(), "auto.offset.reset", "earliest");
  set(conf.get(), "client.id", "sluice");
  // librdkafka prefetches up to 64 MiB by default; sluice's own limit depends on the sinks
  // (KafkaConfig::prefetch_kbytes says what it costs and buys).
  set(conf.get(), "queued.max.messages.kbytes", std::to_string(config.prefetch_kbytes));
  set(conf.get(), "queued.min.messages", std::to_string(config.prefetch_messages));
  // Consumer lag per partition for the metrics comes from librdkafka's statistics.
  set(conf.get(), "statistics.interval.ms", "5000");
  for (const auto& [key, value] : config.properties) set(conf.get(), key, value);
  if (const auto it = config.properties.find("statistics.interval.ms");
      it != config.properties.end() && it->second == "0") {
    spdlog::warn("kafka.properties statistics.interval.ms is 0: no consumer lag metrics, and "
                 "no warning when librdkafka stops fetching a partition");
  }
  // What the delivery guarantee rests on (config validation refuses user overrides): offsets
  // are stored only once every sink accepted, and librdkafka commits only stored offsets.
  set(conf.get(), "bootstrap.servers", config.brokers);
  set(conf.get(), "group.id", config.group);
  set(conf.get(), "enable.auto.offset.store", "false");
  set(conf.get(), "enable.auto.commit", "true");
  set(conf.get(), "auto.commit.interval.ms", std::to_string(config.commit_interval.count()));
  set(conf.get(), "partition.assignment.strategy", "cooperative-sticky");
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::onRebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &KafkaConsumer::onCommit);
  rd_kafka_conf_set_log_cb(conf.get(), &logToSpdlog);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaConsumer::onError);
  rd_kafka_conf_set_stats_cb(conf.get(), &KafkaConsumer::onStats);

  std::array<char, 512> err{};
  rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err.data(), err.size()));
  if (!rk_) throw std::runtime_error(std::string("kafka consumer: ") + err.data());
  conf.release();  // rd_kafka_new took ownership

  // Route rebalance, commit and error events into the consumer queue so one fd wakes us.
  if (rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(rk_.get()); e) {
    throw std::runtime_error(std::string("rd_kafka_poll_set_consumer: ") + rd_kafka_err2str(e));
  }
  queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
  static constexpr std::uint64_t kOne = 1;  // eventfd needs an 8-byte write
  rd_kafka_queue_io_event_enable(queue_.get(), wake_fd_.get(), &kOne, sizeof kOne);

  RdPartitionListPtr topics(
      rd_kafka_topic_partition_list_new(static_cast<int>(config.topics.size())));
  for (const auto& t : config.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_.get(), topics.get()); e) {
    throw std::runtime_error(std::string("subscribe: ") + rd_kafka_err2str(e));
  }
}

KafkaConsumer::~KafkaConsumer() {
  rd_kafka_queue_io_event_enable(queue_.get(), -1, nullptr, 0);
  queue_.reset();
  if (skip_close_) {
    rd_kafka_destroy_flags(rk_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  } else if (!closed_) {
    // Reached only when start-up failed half-way; normal shutdown closes through the loop.
    rd_kafka_consumer_close(rk_.get());
  }
}

void KafkaConsumer::clearWake() {
  std::uint64_t value = 0;
  [[maybe_unused]] const auto n = ::read(wake_fd_.get(), &value, sizeof value);
}

RdMessagePtr KafkaConsumer::poll() { return RdMessagePtr(rd_kafka_consumer_poll(rk_.get(), 0)); }

void KafkaConsumer::onRebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaConsumer*>(opaque)->handleRebalance(err, partitions);
}

void KafkaConsumer::handleRebalance(rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t* partitions) {
  ++counters_.rebalances;
  switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      listener_.onAssign(*partitions);
      break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      listener_.onRevoke(*partitions, assignmentLost());
      break;
    default:
      spdlog::error("kafka rebalance error: {}", rd_kafka_err2str(err));
      listener_.onRevoke(*partitions, true);
      break;
  }
}

void KafkaConsumer::onError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  spdlog::warn("kafka: {} ({})", reason, rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) static_cast<KafkaConsumer*>(opaque)->setBrokersUp(0);
}

void KafkaConsumer::setBrokersUp(int up) {
  const bool was_down = brokers_up_ == 0;
  brokers_up_ = up;
  if (was_down != (up == 0) && on_brokers_) on_brokers_(up != 0);
}

int KafkaConsumer::onStats(rd_kafka_t*, char* json, size_t len, void* opaque) {
  auto* me = static_cast<KafkaConsumer*>(opaque);
  ConsumerStatistics stats = parseStatistics(std::string_view(json, len));
  if (stats.fetched_bytes) me->counters_.fetched_bytes = *stats.fetched_bytes;
  if (stats.brokers_up) me->setBrokersUp(*stats.brokers_up);
  if (stats.partitions) {
    me->partition_stats_ = std::move(*stats.partitions);
    ++me->stats_reports_;
  }
  return 0;  // librdkafka frees the JSON
}

void KafkaConsumer::onCommit(rd_kafka_t*, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* me = static_cast<KafkaConsumer*>(opaque);
  // _NO_OFFSET: nothing was stored since the last commit; not a failure.
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
  if (offsets != nullptr) {
    for (int i = 0; i < offsets->cnt; ++i) {
      const auto& p = offsets->elems[i];
      if (p.err) {
        failed = true;
        spdlog::warn("commit failed for {}[{}] at {}: {}", p.topic, p.partition, p.offset,
                     rd_kafka_err2str(p.err));
      }
    }
  }
  if (offsets != nullptr && me->on_committed_) me->on_committed_(*offsets);
  if (failed) {
    ++me->counters_.commit_failures;
    if (err) spdlog::warn("offset commit failed: {}", rd_kafka_err2str(err));
  } else {
    ++me->counters_.commits_ok;
    if (me->brokers_up_ == 0) me->setBrokersUp(1);
  }
}

void KafkaConsumer::incrementalAssign(const rd_kafka_topic_partition_list_t& partitions) {
  RdErrorPtr error(rd_kafka_incremental_assign(rk_.get(), &partitions));
  if (error) spdlog::error("incremental assign: {}", rd_kafka_error_string(error.get()));
}

void KafkaConsumer::incrementalUnassign(const rd_kafka_topic_partition_list_t& partitions) {
  RdErrorPtr error(rd_kafka_incremental_unassign(rk_.get(), &partitions));
  if (error) spdlog::error("incremental unassign: {}", rd_kafka_error_string(error.get()));
}

void KafkaConsumer::wakeFetchers(rd_kafka_topic_partition_list_t& partitions) {
  if (partitions.cnt == 0) return;
  RdErrorPtr error(rd_kafka_seek_partitions(rk_.get(), &partitions, 0 /* async */));
  if (error) spdlog::warn("seek to wake the fetchers: {}", rd_kafka_error_string(error.get()));
}

void KafkaConsumer::pause(rd_kafka_topic_partition_list_t& partitions) {
  if (rd_kafka_resp_err_t e = rd_kafka_pause_partitions(rk_.get(), &partitions); e) {
    spdlog::warn("pause: {}", rd_kafka_err2str(e));
  }
}

void KafkaConsumer::resume(rd_kafka_topic_partition_list_t& partitions) {
  if (rd_kafka_resp_err_t e = rd_kafka_resume_partitions(rk_.get(), &partitions); e) {
    spdlog::warn("resume: {}", rd_kafka_err2str(e));
  }
}

int KafkaConsumer::storeOffsets(rd_kafka_topic_partition_list_t& offsets) {
  const rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk_.get(), &offsets);
  int failed = 0;
  // The call's own result only says "some element failed": each element carries its error.
  for (int i = 0; i < offsets.cnt; ++i) {
    const auto& p = offsets.elems[i];
    if (p.err) {
      ++failed;
      spdlog::debug("offset store {}[{}] at {}: {}", p.topic, p.partition, p.offset,
                    rd_kafka_err2str(p.err));
    }
  }
  if (e && failed == 0) {
    spdlog::warn("offset store: {}", rd_kafka_err2str(e));
    failed = offsets.cnt;
  }
  return failed;
}

bool KafkaConsumer::assignmentLost() { return rd_kafka_assignment_lost(rk_.get()) != 0; }

void KafkaConsumer::beginClose() {
  if (closing_) return;
  closing_ = true;
  RdErrorPtr error(rd_kafka_consumer_close_queue(rk_.get(), queue_.get()));
  if (error) {
    spdlog::error("consumer close: {}", rd_kafka_error_string(error.get()));
    closed_ = true;
  }
}

bool KafkaConsumer::serveClose() {
  if (closed_) return true;
  // During close librdkafka may hand rebalance ops back as events instead of calling the
  // callback; both end in handleRebalance.
  while (RdEventPtr ev{rd_kafka_queue_poll(queue_.get(), 0)}) {
    if (rd_kafka_event_type(ev.get()) == RD_KAFKA_EVENT_REBALANCE) {
      handleRebalance(rd_kafka_event_error(ev.get()),
                      rd_kafka_event_topic_partition_list(ev.get()));
    }
  }
  if (rd_kafka_consumer_closed(rk_.get())) {
    closed_ = true;
    rd_kafka_queue_io_event_enable(queue_.get(), -1, nullptr, 0);
  }
  return closed_;
}

}  // namespace sluice
