#include "app/sink_progress.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace sluice {
namespace {

constexpr std::string_view kTag = "sluice-progress/1";
// How long a partition's events wait for its sinks' progress before going to every sink.
constexpr Millis kLoadDeadline{5000};
// How far a sink may move (events over all partitions) before its progress is written ahead
// of its interval: a crash then costs it at most about this many redeliveries per member.
constexpr std::int64_t kEagerEvents = 100;
// A sink's progress is written at least this often while it moves (or on the commit
// interval, if shorter): each write is one small commit per sink, and each interval is what
// a crash can cost that sink.
constexpr Millis kWriteInterval{100};

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

std::string hex(std::uint64_t v) {
  char buf[17];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
  return std::string(buf, end);
}

// The element for topic[partition] in `list`, or null.
const rd_kafka_topic_partition_t* find(const rd_kafka_topic_partition_list_t* list,
                                       const PartitionState& p) {
  if (list == nullptr) return nullptr;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.partition == p.partition && p.topic == e.topic) return &e;
  }
  return nullptr;
}

}  // namespace

std::string progressMetadata(std::int64_t committed, std::string_view url) {
  return std::string(kTag) + " committed=" + std::to_string(committed) + " url=" + hex(fnv1a(url));
}

std::optional<std::int64_t> trustedProgress(std::int64_t offset, std::string_view metadata,
                                            std::int64_t committed_now, std::string_view url) {
  if (offset < 0) return std::nullopt;
  const std::string expected_url = " url=" + hex(fnv1a(url));
  if (metadata.substr(0, kTag.size()) != kTag) return std::nullopt;
  const std::string_view rest = metadata.substr(kTag.size());
  constexpr std::string_view kCommitted = " committed=";
  if (rest.substr(0, kCommitted.size()) != kCommitted) return std::nullopt;
  const std::string_view number = rest.substr(kCommitted.size());
  std::int64_t committed = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), committed);
  if (ec != std::errc()) return std::nullopt;
  if (std::string_view(end, static_cast<std::size_t>(number.data() + number.size() - end)) !=
      expected_url) {
    return std::nullopt;  // another sink URL, or a record this version cannot read
  }
  // The group's offsets went back since the record was written: someone reset them to have
  // events delivered again.
  if (committed_now < committed) return std::nullopt;
  return offset;
}

SinkProgress::SinkProgress(const Config& config, PartitionRegistry& partitions,
                           KafkaConsumer& consumer, Scheduler& scheduler,
                           std::function<void(const PartitionState&)> on_known)
    : config_(config),
      enabled_(config.sink_progress),
      group_(config.kafka.group),
      partitions_(partitions),
      consumer_(consumer),
      scheduler_(scheduler),
      on_known_(std::move(on_known)),
      writing_(config.sinks.size(), false),
      next_due_(config.sinks.size()),
      next_warning_(config.sinks.size()) {
  for (const auto& s : config.sinks) {
    sink_groups_.push_back(config.kafka.group + ".sink." + s.name);
    sink_urls_.push_back(s.url);
  }
}

void SinkProgress::open() {
  if (!enabled_) return;
  answers_ = std::make_unique<GroupOffsetAnswers>();
  group_store_ = std::make_unique<GroupOffsetStore>(consumer_.handle(), *answers_);
  for (const auto& group : sink_groups_) {
    sink_stores_.push_back(std::make_unique<GroupOffsetStore>(config_.kafka, group, *answers_));
  }
}

void SinkProgress::close() {
  sink_stores_.clear();
  group_store_.reset();
}

void SinkProgress::load(const std::vector<PartitionStatePtr>& added) {
  // With every broker down nothing would answer before the deadline anyway: the events go to
  // every sink.
  if (!group_store_ || added.empty() || consumer_.brokersUp() == 0) return;
  const std::uint64_t id = next_load_++;
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(added.size())));
  for (const auto& p : added) {
    p->progress_known = false;
    p->progress_load = id;
    rd_kafka_topic_partition_list_add(list.get(), p->topic.c_str(), p->partition);
  }
  Load& load = loads_[id];
  load.partitions = added;
  load.sinks.resize(sink_groups_.size());
  load.answers_left = 1 + sink_groups_.size();
  load.deadline = scheduler_.runAfter(kLoadDeadline, [this, id] { giveUp(id); });
  const auto deadline = std::chrono::steady_clock::now() + kLoadDeadline;
  pending_[group_store_->list(*list, deadline)] = {id, -1, {}};
  for (std::size_t s = 0; s < sink_stores_.size(); ++s) {
    pending_[sink_stores_[s]->list(*list, deadline)] = {id, static_cast<int>(s), {}};
  }
}

void SinkProgress::write(bool all) {
  if (!group_store_ || consumer_.brokersUp() == 0) return;
  const TimePoint now = scheduler_.now();
  for (std::size_t s = 0; s < sink_stores_.size(); ++s) {
    // At a revoke even with a write on its way: the store sends them in order, and this one
    // is the partition's last word from this member.
    if (writing_[s] && !all) continue;
    Pending pending{0, static_cast<int>(s), {}};
    std::int64_t moved = 0;
    RdPartitionListPtr list(rd_kafka_topic_partition_list_new(0));
    partitions_.forEach([&](const PartitionStatePtr& p) {
      if (!p->progress_known || !p->committed || s >= p->sink_offsets.size()) return;
      const auto at = p->sink_offsets[s].committable();
      if (!at) return;
      // Also when only the group's commit moved: the record's `committed` is what tells a
      // later reset of the group's offsets apart from a sink that was simply ahead.
      const PartitionState::Written next{*at, *p->committed};
      if (next.offset == p->sink_written[s].offset &&
          next.committed == p->sink_written[s].committed) {
        return;
      }
      moved += next.offset - std::max<std::int64_t>(p->sink_written[s].offset, 0);
      auto* e = rd_kafka_topic_partition_list_add(list.get(), p->topic.c_str(), p->partition);
      e->offset = *at;
      const std::string meta = progressMetadata(*p->committed, sink_urls_[s]);
      e->metadata = std::malloc(meta.size());  // freed with the list
      std::memcpy(e->metadata, meta.data(), meta.size());
      e->metadata_size = meta.size();
      pending.written.emplace_back(p, next);
    });
    if (list->cnt == 0) continue;
    if (!all && now < next_due_[s] && moved < kEagerEvents) continue;
    next_due_[s] = now + std::min<Millis>(config_.kafka.commit_interval, kWriteInterval);
    writing_[s] = true;
    pending_[sink_stores_[s]->commit(*list)] = std::move(pending);
  }
}

void SinkProgress::serve() {
  if (!answers_) return;
  for (auto& result : answers_->take()) {
    auto it = pending_.find(result.request);
    if (it == pending_.end()) continue;
    Pending pending = std::move(it->second);
    pending_.erase(it);
    if (pending.load == 0) {
      onWritten(pending, result);
      continue;
    }
    auto load = loads_.find(pending.load);
    if (load == loads_.end()) continue;
    if (!result.error.empty()) {
      spdlog::warn("reading {} for {} partition(s) failed: {}; their events go to every sink",
                   pending.sink < 0 ? "the group's offsets" : "sink progress",
                   load->second.partitions.size(), result.error);
    }
    (pending.sink < 0 ? load->second.group : load->second.sinks[static_cast<std::size_t>(pending.sink)]) =
        std::move(result.partitions);
    if (--load->second.answers_left == 0) {
      scheduler_.cancel(load->second.deadline);
      finish(load->second, load->first);
      loads_.erase(load);
    }
  }
}

void SinkProgress::finish(Load& load, std::uint64_t id) {
  for (const auto& p : load.partitions) {
    if (!p->active || p->progress_load != id) continue;  // released, or loading again
    const rd_kafka_topic_partition_t* group = find(load.group.get(), *p);
    // Without the group's offset no record can be checked: nothing is skipped.
    const bool checkable = group != nullptr && group->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    const std::int64_t committed_now = checkable && group->offset >= 0 ? group->offset : -1;
    if (checkable) p->committed = committed_now;
    for (std::size_t s = 0; checkable && s < load.sinks.size() && s < p->resume_below.size(); ++s) {
      const rd_kafka_topic_partition_t* e = find(load.sinks[s].get(), *p);
      if (e == nullptr || e->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      const std::string_view meta(static_cast<const char*>(e->metadata),
                                  e->metadata == nullptr ? 0 : e->metadata_size);
      if (const auto below = trustedProgress(e->offset, meta, committed_now, sink_urls_[s]);
          below && *below > committed_now) {
        p->resume_below[s] = *below;
        spdlog::debug("{}[{}]: sink {} already has everything below {} (committed {})",
                      p->topic, p->partition, sink_groups_[s], *below, committed_now);
      }
    }
    p->progress_known = true;
    on_known_(*p);
  }
}

void SinkProgress::giveUp(std::uint64_t id) {
  auto it = loads_.find(id);
  if (it == loads_.end()) return;
  spdlog::warn("reading sink progress for {} partition(s) took over {} ms; their events go to "
               "every sink",
               it->second.partitions.size(), kLoadDeadline.count());
  Load load = std::move(it->second);
  loads_.erase(it);
  load.group.reset();  // nothing can be checked: nothing is skipped
  finish(load, id);
}

void SinkProgress::onWritten(const Pending& pending, const GroupOffsetAnswers::Answer& result) {
  const auto s = static_cast<std::size_t>(pending.sink);
  writing_[s] = false;
  std::string error = result.error;
  for (int i = 0; error.empty() && result.partitions && i < result.partitions->cnt; ++i) {
    if (const auto err = result.partitions->elems[i].err) error = rd_kafka_err2str(err);
  }
  if (!error.empty()) {
    // Retried on the next interval; meanwhile a handover redelivers more to this sink. Said
    // once a minute at most: it repeats for as long as the broker is away.
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_warning_[s]) {
      spdlog::warn("writing {} failed: {} (retried; until then a member taking partitions over "
                   "sends this sink again what it had)",
                   sink_groups_[s], error);
      next_warning_[s] = now + std::chrono::minutes(1);
    }
  }
  if (!result.error.empty()) return;
  for (const auto& [p, written] : pending.written) {
    const rd_kafka_topic_partition_t* e = find(result.partitions.get(), *p);
    if (e != nullptr && e->err == RD_KAFKA_RESP_ERR_NO_ERROR && s < p->sink_written.size()) {
      p->sink_written[s] = written;
    }
  }
}

void SinkProgress::committed(const rd_kafka_topic_partition_list_t& offsets) {
  for (int i = 0; i < offsets.cnt; ++i) {
    const auto& e = offsets.elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR || e.offset < 0) continue;
    if (auto p = partitions_.find(e.topic, e.partition); p && e.offset > p->committed.value_or(-1)) {
      p->committed = e.offset;
    }
  }
}

}  // namespace sluice
