#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>

#include "util/fn_deleter.h"

namespace sluice {

using RdConfPtr = std::unique_ptr<rd_kafka_conf_t, FnDeleter<rd_kafka_conf_destroy>>;
using RdKafkaPtr = std::unique_ptr<rd_kafka_t, FnDeleter<rd_kafka_destroy>>;
using RdQueuePtr = std::unique_ptr<rd_kafka_queue_t, FnDeleter<rd_kafka_queue_destroy>>;
using RdMessagePtr = std::unique_ptr<rd_kafka_message_t, FnDeleter<rd_kafka_message_destroy>>;
using RdEventPtr = std::unique_ptr<rd_kafka_event_t, FnDeleter<rd_kafka_event_destroy>>;
using RdErrorPtr = std::unique_ptr<rd_kafka_error_t, FnDeleter<rd_kafka_error_destroy>>;
using RdPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t,
                    FnDeleter<rd_kafka_topic_partition_list_destroy>>;

}  // namespace sluice
