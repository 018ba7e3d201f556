#include "kafka_client.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <stdexcept>
#include <thread>

#include "kafka/rd_handles.h"

namespace sluice::testing {
namespace {

constexpr int kTimeoutMs = 30'000;

RdKafkaPtr makeClient(rd_kafka_type_t type, const std::string& bootstrap,
                      std::initializer_list<std::pair<const char*, std::string>> props,
                      void (*dr_cb)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr,
                      void* opaque = nullptr) {
  RdConfPtr conf(rd_kafka_conf_new());
  std::array<char, 512> err{};
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf.get(), k, v.c_str(), err.data(), err.size()) != RD_KAFKA_CONF_OK) {
      throw std::runtime_error(std::string(k) + ": " + err.data());
    }
  };
  set("bootstrap.servers", bootstrap);
  set("log_level", "3");
  for (const auto& [k, v] : props) set(k, v);
  if (dr_cb != nullptr) rd_kafka_conf_set_dr_msg_cb(conf.get(), dr_cb);
  if (opaque != nullptr) rd_kafka_conf_set_opaque(conf.get(), opaque);
  RdKafkaPtr rk(rd_kafka_new(type, conf.get(), err.data(), err.size()));
  if (!rk) throw std::runtime_error(std::string("rd_kafka_new: ") + err.data());
  conf.release();
  return rk;
}

int partitionCount(rd_kafka_t* rk, const std::string& topic) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const auto err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  int n = -1;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    n = 0;
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      if (md->topics[0].partitions[i].leader >= 0) ++n;
    }
  }
  rd_kafka_metadata_destroy(md);
  return n;
}

struct DeliveryTally {
  std::atomic<std::int64_t> ok{0};
  std::atomic<std::int64_t>* acked = nullptr;
  std::atomic<std::int64_t> failed{0};
  std::string first_error;
};

void onDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* t = static_cast<DeliveryTally*>(opaque);
  if (m->err) {
    if (t->failed++ == 0) t->first_error = rd_kafka_err2str(m->err);
  } else {
    ++t->ok;
    if (t->acked != nullptr) ++*t->acked;
  }
}

}  // namespace

void createTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                 bool allow_existing, const std::map<std::string, std::string>& configs) {
  RdKafkaPtr rk = makeClient(RD_KAFKA_PRODUCER, bootstrap, {});
  std::array<char, 512> err{};
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err.data(), err.size());
  if (nt == nullptr) throw std::runtime_error("NewTopic: " + std::string(err.data()));
  for (const auto& [name, value] : configs) {
    if (rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str())) {
      rd_kafka_NewTopic_destroy(nt);
      throw std::runtime_error("NewTopic config " + name);
    }
  }
  RdQueuePtr q(rd_kafka_queue_new(rk.get()));
  rd_kafka_CreateTopics(rk.get(), &nt, 1, nullptr, q.get());
  rd_kafka_NewTopic_destroy(nt);
  RdEventPtr ev(rd_kafka_queue_poll(q.get(), kTimeoutMs));
  if (!ev) throw std::runtime_error("CreateTopics: no answer from " + bootstrap);
  if (rd_kafka_event_error(ev.get())) {
    throw std::runtime_error(std::string("CreateTopics: ") + rd_kafka_event_error_string(ev.get()));
  }
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    const auto e = rd_kafka_topic_result_error(results[i]);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && allow_existing) continue;
    if (e) {
      throw std::runtime_error("create topic " + topic + ": " +
                               (rd_kafka_topic_result_error_string(results[i])
                                    ? rd_kafka_topic_result_error_string(results[i])
                                    : rd_kafka_err2str(e)));
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (partitionCount(rk.get(), topic) < partitions) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("topic " + topic + " has no leaders for all partitions");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void deleteTopics(const std::string& bootstrap, const std::vector<std::string>& topics,
                  std::chrono::milliseconds timeout) {
  RdKafkaPtr rk = makeClient(RD_KAFKA_PRODUCER, bootstrap, {});
  std::vector<rd_kafka_DeleteTopic_t*> requests;
  for (const auto& t : topics) requests.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  RdQueuePtr q(rd_kafka_queue_new(rk.get()));
  rd_kafka_DeleteTopics(rk.get(), requests.data(), requests.size(), nullptr, q.get());
  rd_kafka_DeleteTopic_destroy_array(requests.data(), requests.size());
  RdEventPtr ev(rd_kafka_queue_poll(q.get(), static_cast<int>(timeout.count())));
}

PartitionOffsets produceEvents(const std::string& bootstrap, const std::string& topic,
                               const ProduceOptions& o) {
  DeliveryTally tally;
  tally.acked = o.acked;
  RdKafkaPtr rk = makeClient(RD_KAFKA_PRODUCER, bootstrap,
                             {{"acks", "all"},
                              {"enable.idempotence", "true"},
                              {"linger.ms", "5"},
                              {"batch.num.messages", "10000"},
                              {"queue.buffering.max.messages", "1000000"}},
                             &onDelivery, &tally);
  PartitionOffsets per_partition;
  const auto start = std::chrono::steady_clock::now();
  std::string body;
  for (std::int64_t i = 0; i < o.count; ++i) {
    const std::int64_t seq = o.first_seq + i;
    const auto partition = static_cast<std::int32_t>(seq % o.partitions);
    body = "{\"seq\":" + std::to_string(seq) + ",\"source\":\"sluice-test\"";
    if (body.size() + 12 < o.body_bytes) {
      body += ",\"pad\":\"" + std::string(o.body_bytes - body.size() - 10, 'x') + "\"";
    }
    body += "}";
    const std::string key =
        "k" + std::to_string(o.key_cardinality > 0 ? seq % o.key_cardinality : seq);
    for (;;) {
      std::array<rd_kafka_vu_t, 5> vu{};
      vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
      vu[0].u.cstr = topic.c_str();
      vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
      vu[1].u.i32 = partition;
      vu[2].vtype = RD_KAFKA_VTYPE_KEY;
      vu[2].u.mem = {const_cast<char*>(key.data()), key.size()};
      vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
      vu[3].u.mem = {body.data(), body.size()};
      vu[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      vu[4].u.i = RD_KAFKA_MSG_F_COPY;
      RdErrorPtr error(rd_kafka_produceva(rk.get(), vu.data(), vu.size()));
      const rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error.get()) : RD_KAFKA_RESP_ERR_NO_ERROR;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(err));
      }
      rd_kafka_poll(rk.get(), 10);
    }
    ++per_partition[partition];
    rd_kafka_poll(rk.get(), 0);
    if (o.rate_per_sec > 0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(i + 1) /
                                                                 o.rate_per_sec));
      std::this_thread::sleep_until(due);
    }
  }
  if (rd_kafka_flush(rk.get(), 60'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("produce: flush timed out");
  }
  if (tally.failed > 0) {
    throw std::runtime_error("produce: " + std::to_string(tally.failed.load()) +
                             " deliveries failed: " + tally.first_error);
  }
  return per_partition;
}

std::vector<std::int64_t> produceRaw(const std::string& bootstrap, const std::string& topic,
                                     std::int32_t partition,
                                     const std::vector<RawRecord>& records) {
  DeliveryTally tally;
  RdKafkaPtr rk = makeClient(RD_KAFKA_PRODUCER, bootstrap,
                             {{"acks", "all"}, {"enable.idempotence", "true"}}, &onDelivery, &tally);
  for (const auto& r : records) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
    for (const auto& [name, value] : r.headers) {
      rd_kafka_header_add(headers, name.c_str(), -1, value.data(), static_cast<ssize_t>(value.size()));
    }
    std::array<rd_kafka_vu_t, 6> vu{};
    vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[0].u.cstr = topic.c_str();
    vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[1].u.i32 = partition;
    vu[2].vtype = RD_KAFKA_VTYPE_KEY;
    vu[2].u.mem = {const_cast<char*>(r.key.data()), r.key.size()};
    vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[3].u.mem = {const_cast<char*>(r.value.data()), r.value.size()};
    vu[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[4].u.i = RD_KAFKA_MSG_F_COPY;
    vu[5].vtype = RD_KAFKA_VTYPE_HEADERS;
    vu[5].u.headers = headers;
    RdErrorPtr error(rd_kafka_produceva(rk.get(), vu.data(), vu.size()));
    if (error) {
      rd_kafka_headers_destroy(headers);
      throw std::runtime_error(std::string("produce: ") + rd_kafka_error_string(error.get()));
    }
  }
  if (rd_kafka_flush(rk.get(), 30'000) != RD_KAFKA_RESP_ERR_NO_ERROR || tally.failed > 0) {
    throw std::runtime_error("produceRaw: not every record was acknowledged " + tally.first_error);
  }
  // One producer, one partition, idempotent: the records got consecutive offsets ending just
  // before the partition's end offset.
  std::int64_t low = 0, high = 0;
  rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), partition, &low, &high, kTimeoutMs);
  std::vector<std::int64_t> offsets;
  for (std::size_t i = 0; i < records.size(); ++i) {
    offsets.push_back(high - static_cast<std::int64_t>(records.size() - i));
  }
  return offsets;
}

std::vector<RawRecord> readTopic(const std::string& bootstrap, const std::string& topic,
                                 std::size_t count, std::chrono::milliseconds timeout) {
  RdKafkaPtr rk = makeClient(RD_KAFKA_CONSUMER, bootstrap,
                             {{"group.id", "sluice-reader"}, {"enable.auto.commit", "false"}});
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const auto merr = rd_kafka_metadata(rk.get(), 0, rkt, &md, kTimeoutMs);
  rd_kafka_topic_destroy(rkt);
  if (merr) throw std::runtime_error(std::string("metadata: ") + rd_kafka_err2str(merr));
  const int partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk.get(), list.get());
  std::vector<RawRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    RdMessagePtr m(rd_kafka_consumer_poll(rk.get(), 100));
    if (!m || m->err) continue;
    RawRecord r;
    if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
    r.partition = m->partition;
    r.offset = m->offset;
    r.timestamp_ms = rd_kafka_message_timestamp(m.get(), nullptr);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                         RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        r.headers[name] = value ? std::string(static_cast<const char*>(value), size) : "";
      }
    }
    out.push_back(std::move(r));
  }
  rd_kafka_consumer_close(rk.get());
  return out;
}

PartitionOffsets endOffsets(const std::string& bootstrap, const std::string& topic,
                            int partitions) {
  RdKafkaPtr rk = makeClient(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", "sluice-probe"}});
  PartitionOffsets out;
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0, high = 0;
    const auto err =
        rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, kTimeoutMs);
    if (err) throw std::runtime_error(std::string("watermarks: ") + rd_kafka_err2str(err));
    out[p] = high;
  }
  return out;
}

PartitionOffsets committedOffsets(const std::string& bootstrap, const std::string& group,
                                  const std::string& topic, int partitions) {
  RdKafkaPtr rk = makeClient(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", group}});
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  const auto err = rd_kafka_committed(rk.get(), list.get(), kTimeoutMs);
  if (err) throw std::runtime_error(std::string("committed: ") + rd_kafka_err2str(err));
  PartitionOffsets out;
  for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
  rd_kafka_consumer_close(rk.get());
  return out;
}

}  // namespace sluice::testing

namespace sluice::testing {

void commitGroupOffsets(const std::string& bootstrap, const std::string& group,
                        const std::string& topic, const PartitionOffsets& offsets) {
  RdKafkaPtr rk = makeClient(RD_KAFKA_CONSUMER, bootstrap,
                             {{"group.id", group}, {"enable.auto.commit", "false"}});
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [p, o] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = o;
  }
  // Not subscribed: a commit without a generation, which the broker takes from a group that
  // has no members.
  const auto err = rd_kafka_commit(rk.get(), list.get(), 0);
  rd_kafka_consumer_close(rk.get());
  if (err) throw std::runtime_error(std::string("commit: ") + rd_kafka_err2str(err));
}

}  // namespace sluice::testing
