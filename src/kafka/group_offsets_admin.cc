#include "kafka/group_offsets_admin.h"

#include <sys/eventfd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace sluice {
namespace {

using RdAdminOptionsPtr =
    std::unique_ptr<rd_kafka_AdminOptions_t, FnDeleter<rd_kafka_AdminOptions_destroy>>;

RdAdminOptionsPtr options(rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout,
                          std::uint64_t request) {
  RdAdminOptionsPtr o(rd_kafka_AdminOptions_new(rk, op));
  std::array<char, 256> err{};
  rd_kafka_AdminOptions_set_request_timeout(o.get(), static_cast<int>(timeout.count()), err.data(),
                                            err.size());
  rd_kafka_AdminOptions_set_opaque(o.get(), reinterpret_cast<void*>(request));
  return o;
}

// The one group's partitions of a List or Alter result.
RdPartitionListPtr partitionsOf(const rd_kafka_group_result_t* const* groups, std::size_t n,
                                std::string& error) {
  if (n == 0) {
    error = "no group in the answer";
    return nullptr;
  }
  if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[0])) {
    error = rd_kafka_error_string(e);
    return nullptr;
  }
  return RdPartitionListPtr(rd_kafka_topic_partition_list_copy(
      rd_kafka_group_result_partitions(groups[0])));
}

}  // namespace

GroupOffsetsAdmin::GroupOffsetsAdmin(rd_kafka_t* rk, std::chrono::milliseconds timeout)
    : rk_(rk), timeout_(timeout), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  queue_.reset(rd_kafka_queue_new(rk_));
  static constexpr std::uint64_t kOne = 1;  // eventfd needs an 8-byte write
  rd_kafka_queue_io_event_enable(queue_.get(), wake_fd_.get(), &kOne, sizeof kOne);
}

GroupOffsetsAdmin::~GroupOffsetsAdmin() {
  rd_kafka_queue_io_event_enable(queue_.get(), -1, nullptr, 0);
}

std::uint64_t GroupOffsetsAdmin::list(const std::string& group,
                                      const rd_kafka_topic_partition_list_t& partitions) {
  const std::uint64_t request = next_request_++;
  rd_kafka_ListConsumerGroupOffsets_t* what =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), &partitions);
  auto o = options(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_, request);
  rd_kafka_ListConsumerGroupOffsets(rk_, &what, 1, o.get(), queue_.get());
  rd_kafka_ListConsumerGroupOffsets_destroy(what);
  return request;
}

std::uint64_t GroupOffsetsAdmin::alter(const std::string& group,
                                       const rd_kafka_topic_partition_list_t& offsets) {
  const std::uint64_t request = next_request_++;
  rd_kafka_AlterConsumerGroupOffsets_t* what =
      rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), &offsets);
  auto o = options(rk_, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_, request);
  rd_kafka_AlterConsumerGroupOffsets(rk_, &what, 1, o.get(), queue_.get());
  rd_kafka_AlterConsumerGroupOffsets_destroy(what);
  return request;
}

std::vector<GroupOffsetsAdmin::Result> GroupOffsetsAdmin::take() {
  std::uint64_t count = 0;
  while (::read(wake_fd_.get(), &count, sizeof count) > 0) {
  }
  std::vector<Result> out;
  while (RdEventPtr ev{rd_kafka_queue_poll(queue_.get(), 0)}) {
    Result r;
    r.request = reinterpret_cast<std::uint64_t>(rd_kafka_event_opaque(ev.get()));
    if (rd_kafka_event_error(ev.get())) {
      r.error = rd_kafka_event_error_string(ev.get());
    } else if (const auto* list = rd_kafka_event_ListConsumerGroupOffsets_result(ev.get())) {
      std::size_t n = 0;
      const auto* groups = rd_kafka_ListConsumerGroupOffsets_result_groups(list, &n);
      r.partitions = partitionsOf(groups, n, r.error);
    } else if (const auto* alter = rd_kafka_event_AlterConsumerGroupOffsets_result(ev.get())) {
      std::size_t n = 0;
      const auto* groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(alter, &n);
      r.partitions = partitionsOf(groups, n, r.error);
    } else {
      continue;  // nothing else is asked for on this queue
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sluice
