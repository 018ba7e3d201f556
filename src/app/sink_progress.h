#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "delivery/partition_registry.h"
#include "kafka/group_offset_store.h"
#include "kafka/kafka_consumer.h"
#include "loop/event_loop.h"

namespace sluice {

// Each sink's own progress per partition, kept in Kafka where the next owner of a partition
// finds it: the committed offsets of a consumer group per sink, "<group>.sink.<name>", which
// never has members; an offset there means "this sink has accepted every event below it".
// The group's own commit is where the slowest sink stands. Without this, a member taking a
// partition over (after a kill -9, a crash or a rebalance) sends the faster sinks again what
// they had accepted beyond it, and while one sink is down that is everything the others took
// meanwhile (up to the in-flight budget).
//
// Written on the commit interval and when partitions are released; read when partitions are
// assigned, and until then their events wait before dispatch (DispatchStage). A record is
// trusted only if it was written for the same sink URL and the group's committed offset has
// not gone back since: an operator who resets the group's offsets to replay events gets them
// delivered to every sink again. If reading fails, the events go to every sink (duplicates,
// never a loss).
//
// Reads and writes go through a GroupOffsetStore per group (a thread and, for a sink's group,
// a librdkafka handle of its own), not the Admin API: group_offset_store.h says why.
class SinkProgress {
 public:
  // `on_known`: a partition's progress is in (or given up on); its waiting events may go.
  SinkProgress(const Config& config, PartitionRegistry& partitions, KafkaConsumer& consumer,
               Scheduler& scheduler, std::function<void(const PartitionState&)> on_known);

  bool enabled() const { return enabled_; }
  // Starts the stores once the consumer exists (throws at start-up); close() stops them
  // before it goes.
  void open();
  void close();
  // Readable when answers are in: then call serve().
  int fd() const { return answers_->fd(); }
  // Newly assigned partitions: reads each sink's progress for them.
  void load(const std::vector<PartitionStatePtr>& added);
  // Writes each sink's progress that moved since it was last written: all of it when `all`
  // (a revoke), else a sink's once its interval (kWriteInterval, 100 ms) is up or once it
  // moved 100 events (kEagerEvents): at catch-up speed one interval is thousands of events,
  // each sent again to that sink after a crash. Called often (kWriteTick).
  void write(bool all);
  static constexpr Millis kWriteTick{50};
  // Takes Kafka's answers (fd() is readable).
  void serve();
  // The group's commits as librdkafka reports them: what a progress record is checked against.
  void committed(const rd_kafka_topic_partition_list_t& offsets);

 private:
  struct Load {
    std::vector<PartitionStatePtr> partitions;
    std::size_t answers_left = 0;
    RdPartitionListPtr group;               // the group's committed offsets
    std::vector<RdPartitionListPtr> sinks;  // each sink's progress
    Scheduler::TimerId deadline = 0;
  };
  struct Pending {  // what an answer is for
    std::uint64_t load = 0;   // a load's answer, or 0 for a write
    int sink = -1;            // -1: the group's own offsets
    std::vector<std::pair<PartitionStatePtr, PartitionState::Written>> written;  // a write's
  };
  void finish(Load& load, std::uint64_t id);
  void giveUp(std::uint64_t id);
  void onWritten(const Pending& pending, const GroupOffsetAnswers::Answer& result);

  const Config& config_;
  bool enabled_;
  std::string group_;
  std::vector<std::string> sink_groups_;
  std::vector<std::string> sink_urls_;
  PartitionRegistry& partitions_;
  KafkaConsumer& consumer_;
  Scheduler& scheduler_;
  std::function<void(const PartitionState&)> on_known_;
  std::map<std::uint64_t, Load> loads_;
  std::unique_ptr<GroupOffsetAnswers> answers_;
  std::unique_ptr<GroupOffsetStore> group_store_;               // the group's own offsets
  std::vector<std::unique_ptr<GroupOffsetStore>> sink_stores_;  // each sink's progress
  std::map<std::uint64_t, Pending> pending_;  // by request
  std::vector<bool> writing_;                 // per sink: a write is on its way
  std::vector<TimePoint> next_due_;           // per sink: when its interval is up
  std::vector<std::chrono::steady_clock::time_point> next_warning_;  // per sink
  std::uint64_t next_load_ = 1;
};

// The metadata a progress record carries: the group's committed offset when it was written
// and a hash of the sink's URL.
std::string progressMetadata(std::int64_t committed, std::string_view url);
// The offset below which the sink has every event, if the record can be trusted now that the
// group's committed offset is `committed_now` and the sink's URL is `url`; nullopt if not.
std::optional<std::int64_t> trustedProgress(std::int64_t offset, std::string_view metadata,
                                            std::int64_t committed_now, std::string_view url);

}  // namespace sluice
