#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "util/fn_deleter.h"

namespace sluice {

using RdConfPtr = std::unique_ptr<rd_kafka_conf_t, FnDeleter<rd_kafka_conf_destroy>>;
using RdKafkaPtr = std::unique_ptr<rd_kafka_t, FnDeleter<rd_kafka_destroy>>;
using RdQueuePtr = std::unique_ptr<rd_kafka_queue_t, FnDeleter<rd_kafka_queue_destroy>>;
using RdMessagePtr = std::unique_ptr<rd_kafka_message_t, FnDeleter<rd_kafka_message_destroy>>;
using RdHeadersPtr = std::unique_ptr<rd_kafka_headers_t, FnDeleter<rd_kafka_headers_destroy>>;
using RdEventPtr = std::unique_ptr<rd_kafka_event_t, FnDeleter<rd_kafka_event_destroy>>;
using RdErrorPtr = std::unique_ptr<rd_kafka_error_t, FnDeleter<rd_kafka_error_destroy>>;
using RdPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t,
                    FnDeleter<rd_kafka_topic_partition_list_destroy>>;

// Sets one librdkafka property; throws std::runtime_error naming `what` and the key on a
// bad key or value (start-up only).
void setConf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
             const char* what);

// The consumer's security.*, sasl.* and ssl.* properties onto another handle's `conf` (the
// dead-letter producer's, the sink-progress handles'): the same brokers, the same credentials.
void copySecurityProperties(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& from,
                            const char* what);

// A log callback (rd_kafka_conf_set_log_cb) that writes librdkafka's lines to sluice's log,
// named by client ("sluice#consumer-1", "sluice-dlq#producer-2"); without one they reach
// stderr in librdkafka's own format. Called from librdkafka's threads: spdlog is thread-safe.
void logToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message);

}  // namespace sluice
