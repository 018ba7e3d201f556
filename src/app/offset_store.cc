#include "app/offset_store.h"

namespace sluice {
namespace {

constexpr Millis kStoreInterval{10};

}  // namespace

void OffsetStore::storeIfDue(TimePoint now) {
  if (now < next_store_) return;
  store();
  next_store_ = now + kStoreInterval;
}

void OffsetStore::store() {
  const auto pending = partitions_.pendingStores();
  if (pending.empty()) return;
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(pending.size())));
  for (const auto& s : pending) {
    rd_kafka_topic_partition_list_add(list.get(), s.partition->topic.c_str(),
                                      s.partition->partition)
        ->offset = s.offset;
  }
  consumer_.storeOffsets(*list);
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      pending[i].partition->stored = pending[i].offset;
    }
  }
}

}  // namespace sluice
