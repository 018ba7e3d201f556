#include "delivery/event.h"

#include <cstring>

namespace sluice {

void Event::adoptRecord(rd_kafka_message_t& message) {
  const std::size_t key_len = message.key != nullptr ? message.key_len : 0;
  const std::size_t value_len = message.payload != nullptr ? message.len : 0;
  // One allocation for both (new char[0] is not null, so an empty value stays non-null); a
  // record with neither needs none.
  if (message.payload != nullptr || message.key != nullptr) {
    record_bytes = std::make_unique_for_overwrite<char[]>(value_len + key_len);
    std::memcpy(record_bytes.get(), message.payload, value_len);
    if (key_len > 0) std::memcpy(record_bytes.get() + value_len, message.key, key_len);
  }
  // A null value stays null (a view without data), as an empty one stays empty.
  body = message.payload != nullptr ? std::string_view(record_bytes.get(), value_len)
                                    : std::string_view();
  if (message.key != nullptr) kafka_key = std::string_view(record_bytes.get() + value_len, key_len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_detach_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    record_headers.reset(headers);
  }
}

}  // namespace sluice
