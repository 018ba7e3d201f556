#include "kafka/kafka_consumer.h"

#include <rapidjson/document.h>
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
  rapidjson::Document doc;
  doc.Parse(json, len);
  if (doc.HasParseError() || !doc.IsObject()) return 0;
  if (doc.HasMember("rxmsg_bytes") && doc["rxmsg_bytes"].IsUint64()) {
    me->counters_.fetched_bytes = doc["rxmsg_bytes"].GetUint64();
  }
  if (doc.HasMember("brokers") && doc["brokers"].IsObject()) {
    // Real connections only: the "logical" group coordinator and the "internal" broker
    // would count twice or never.
    int up = 0;
    for (const auto& b : doc["brokers"].GetObject()) {
      const auto& v = b.value;
      if (!v.IsObject() || !v.HasMember("state") || !v["state"].IsString() ||
          !v.HasMember("source") || !v["source"].IsString()) {
        continue;
      }
      const std::string_view source = v["source"].GetString();
      if ((source == "learned" || source == "configured") &&
          std::string_view(v["state"].GetString()) == "UP") {
        ++up;
      }
    }
    me->setBrokersUp(up);
  }
  if (!doc.HasMember("topics")) return 0;
  std::vector<PartitionStats> partitions;
  for (const auto& topic : doc["topics"].GetObject()) {
    if (!topic.value.IsObject() || !topic.value.HasMember("partitions")) continue;
    for (const auto& part : topic.value["partitions"].GetObject()) {
      const auto& p = part.value;
      // -1 is librdkafka's internal "unassigned" partition; lag -1 means unknown.
      if (!p.IsObject() || !p.HasMember("partition") || !p.HasMember("consumer_lag_stored")) {
        continue;
      }
      const auto id = p["partition"].GetInt();
      const auto lag = p["consumer_lag_stored"].GetInt64();
      const bool assigned = p.HasMember("fetch_state") && p["fetch_state"].IsString() &&
                            std::string_view(p["fetch_state"].GetString()) != "none";
      if (id < 0 || !assigned) continue;
      // librdkafka reports "no offset" as -1001.
      const std::int64_t committed =
          p.HasMember("committed_offset") && p["committed_offset"].IsInt64()
              ? std::max<std::int64_t>(p["committed_offset"].GetInt64(), -1)
              : -1;
      // librdkafka's logical offsets (-1001 and such) all mean unknown here.
      const auto offset = [&p](const char* name) -> std::int64_t {
        if (!p.HasMember(name) || !p[name].IsInt64()) return -1;
        return std::max<std::int64_t>(p[name].GetInt64(), -1);
      };
      PartitionStats st;
      st.topic = topic.name.GetString();
      st.partition = id;
      st.lag = std::max<std::int64_t>(lag, -1);
      st.committed = committed;
      st.fetch_state = p["fetch_state"].GetString();
      st.next_offset = offset("next_offset");
      st.end_offset = offset("hi_offset");
      if (p.HasMember("rxmsgs") && p["rxmsgs"].IsUint64()) {
        st.fetched_messages = p["rxmsgs"].GetUint64();
      }
      partitions.push_back(std::move(st));
    }
  }
  me->partition_stats_ = std::move(partitions);
  ++me->stats_reports_;
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
