#include "kafka/dead_letter_producer.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace sluice {
namespace {

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  setConf(conf, key, value, "dead_letter");
}

void addHeader(rd_kafka_headers_t* headers, const char* name, std::string_view value) {
  rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
}

}  // namespace

DeadLetterProducer::DeadLetterProducer(const KafkaConfig& kafka, const DeadLetterConfig& config,
                                       AckCallback on_ack, ErrorCallback on_error)
    : topic_(config.topic),
      on_ack_(std::move(on_ack)),
      on_error_(std::move(on_error)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  RdConfPtr conf(rd_kafka_conf_new());
  set(conf.get(), "client.id", "sluice-dlq");
  // The consumer's security settings (SASL, SSL) usually apply to the producer too.
  copySecurityProperties(conf.get(), kafka.properties, "dead_letter");
  for (const auto& [key, value] : config.properties) set(conf.get(), key, value);
  set(conf.get(), "bootstrap.servers", kafka.brokers);
  set(conf.get(), "enable.idempotence", "true");
  set(conf.get(), "acks", "all");
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &DeadLetterProducer::onDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &DeadLetterProducer::onError);
  rd_kafka_conf_set_log_cb(conf.get(), &logToSpdlog);
  std::array<char, 512> err{};
  rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err.data(), err.size()));
  if (!rk_) throw std::runtime_error(std::string("dead-letter producer: ") + err.data());
  conf.release();
  queue_.reset(rd_kafka_queue_get_main(rk_.get()));
  static constexpr std::uint64_t kOne = 1;  // eventfd needs an 8-byte write
  rd_kafka_queue_io_event_enable(queue_.get(), wake_fd_.get(), &kOne, sizeof kOne);
}

DeadLetterProducer::~DeadLetterProducer() {
  rd_kafka_queue_io_event_enable(queue_.get(), -1, nullptr, 0);
  queue_.reset();
  // Whatever is still unacknowledged was never counted as done, so its offset was never
  // committed: waiting here would only delay the exit.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

void DeadLetterProducer::serve() {
  std::uint64_t value = 0;
  [[maybe_unused]] const auto n = ::read(wake_fd_.get(), &value, sizeof value);
  rd_kafka_poll(rk_.get(), 0);
}

void DeadLetterProducer::onDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* me = static_cast<DeadLetterProducer*>(opaque);
  me->on_ack_(reinterpret_cast<std::uintptr_t>(msg->_private), msg->err);
}

void DeadLetterProducer::onError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* me = static_cast<DeadLetterProducer*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> why{};
    const rd_kafka_resp_err_t original = rd_kafka_fatal_error(rk, why.data(), why.size());
    me->on_error_(original, true, why.data());
    return;
  }
  me->on_error_(code, false, reason);
}

void DeadLetterProducer::triggerFatalErrorForTesting() {
  rd_kafka_test_fatal_error(rk_.get(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                            "triggered by a test");
}

rd_kafka_resp_err_t DeadLetterProducer::produce(std::uint64_t id,
                                                const DeadLetterSource& original,
                                                const DeadLetterReason& why) {
  rd_kafka_headers_t* headers = !why.omit_key_and_headers && original.headers != nullptr
                                    ? rd_kafka_headers_copy(original.headers)
                                    : rd_kafka_headers_new(12);
  addHeader(headers, "sluice.reason", why.reason);
  if (!why.sinks.empty()) addHeader(headers, "sluice.sinks", why.sinks);
  if (why.status != 0) addHeader(headers, "sluice.status", std::to_string(why.status));
  if (!why.error.empty()) addHeader(headers, "sluice.error", why.error);
  if (why.attempts != 0) addHeader(headers, "sluice.attempts", std::to_string(why.attempts));
  if (!why.where.empty()) addHeader(headers, "sluice.where", why.where);
  addHeader(headers, "sluice.source.topic", original.topic);
  addHeader(headers, "sluice.source.partition", std::to_string(original.partition));
  addHeader(headers, "sluice.source.offset", std::to_string(original.offset));
  if (original.timestamp_ms >= 0) {
    addHeader(headers, "sluice.source.timestamp", std::to_string(original.timestamp_ms));
  }
  if (why.omit_value) {
    addHeader(headers, "sluice.value_omitted", std::to_string(original.value.size()));
  }
  if (why.omit_key_and_headers && original.key) {
    addHeader(headers, "sluice.key_omitted", std::to_string(original.key->size()));
  }

  std::array<rd_kafka_vu_t, 6> vu{};
  vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vu[0].u.cstr = topic_.c_str();
  vu[1].vtype = RD_KAFKA_VTYPE_KEY;  // left null when the key is omitted
  if (!why.omit_key_and_headers && original.key) {
    vu[1].u.mem = {const_cast<char*>(original.key->data()), original.key->size()};
  }
  vu[2].vtype = RD_KAFKA_VTYPE_VALUE;  // left null when the value is omitted
  if (!why.omit_value && original.value.data() != nullptr) {
    vu[2].u.mem = {const_cast<char*>(original.value.data()), original.value.size()};
  }
  vu[3].vtype = RD_KAFKA_VTYPE_HEADERS;
  vu[3].u.headers = headers;
  vu[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vu[4].u.ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
  // Copy: the event may be freed before the ack (its partition revoked, the shutdown grace
  // over), and librdkafka may still be building a request from it.
  vu[5].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vu[5].u.i = RD_KAFKA_MSG_F_COPY;
  RdErrorPtr error(rd_kafka_produceva(rk_.get(), vu.data(), vu.size()));
  if (error) {
    rd_kafka_headers_destroy(headers);  // not taken over on failure
    return rd_kafka_error_code(error.get());
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace sluice
