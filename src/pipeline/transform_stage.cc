#include "pipeline/transform_stage.h"

#include <algorithm>
#include <functional>

namespace sluice {
namespace {

constexpr const char* kVersionHeader = "Sluice-Transform-Version";

const char* resultName(const TransformOutput& out) {
  switch (out.result) {
    case TransformOutput::Result::kPass:
      return out.routes.empty() ? "ok" : "routed";
    case TransformOutput::Result::kDrop:
      return "dropped";
    case TransformOutput::Result::kFail:
      return "failed";
  }
  return "failed";
}

}  // namespace

AppliedTransforms applyResults(const TransformJob& job, const std::vector<std::string>& sink_names) {
  AppliedTransforms applied;
  auto t = std::make_unique<EventTransforms>();
  bool changed = false;
  t->sinks.resize(sink_names.size());
  const TransformSet& set = *job.set;
  if (job.pipeline) {
    const TransformOutput& out = *job.pipeline;
    const std::string where = "transform pipeline (" + std::string(set.pipeline->module->version()) + ")";
    if (out.result == TransformOutput::Result::kFail) {
      applied.failure = where + ": " + out.error;
      return applied;
    }
    changed = true;
    t->headers = out.headers;
    t->headers.emplace_back(kVersionHeader, std::string(set.pipeline->module->version()));
    if (out.result == TransformOutput::Result::kDrop) {
      for (auto& s : t->sinks) s.skip = true;
      applied.transforms = std::move(t);
      return applied;
    }
    if (out.body) {
      t->body = *out.body;
      t->body_set = true;
    }
    for (const std::string& route : out.routes) {
      if (std::find(sink_names.begin(), sink_names.end(), route) == sink_names.end()) {
        applied.failure = where + ": routed to \"" + route + "\", which is no sink";
        return applied;
      }
    }
    if (!out.routes.empty()) {
      for (std::size_t s = 0; s < sink_names.size(); ++s) {
        t->sinks[s].skip = std::find(out.routes.begin(), out.routes.end(), sink_names[s]) ==
                           out.routes.end();
      }
    }
  }
  for (std::size_t s = 0; s < job.sinks.size() && s < sink_names.size(); ++s) {
    if (!job.sinks[s]) continue;
    const TransformOutput& out = *job.sinks[s];
    const TransformSlot& slot = *set.sinks[s];
    if (out.result == TransformOutput::Result::kFail) {
      applied.failure = "transform of sink " + sink_names[s] + " (" +
                        std::string(slot.module->version()) + "): " + out.error;
      return applied;
    }
    changed = true;
    auto& sink = t->sinks[s];
    if (out.result == TransformOutput::Result::kDrop) {
      sink.skip = true;
      continue;
    }
    sink.body = out.body;
    sink.headers = out.headers;
    // Which modules made this request: the pipeline's (in t->headers) and this sink's.
    std::string versions(slot.module->version());
    if (set.pipeline) versions = std::string(set.pipeline->module->version()) + ", " + versions;
    sink.headers.emplace_back(kVersionHeader, std::move(versions));
  }
  if (changed) applied.transforms = std::move(t);
  return applied;
}

TransformStage::TransformStage(TransformPool& pool, std::vector<std::string> sink_names,
                               Pinning pinning)
    : pool_(pool), sink_names_(std::move(sink_names)), pinning_(pinning) {}

std::size_t TransformStage::workerFor(const Event& e) {
  switch (pinning_) {
    case Pinning::kPartition:
      return std::hash<std::string>{}(e.partition->topic) * 31 +
             static_cast<std::size_t>(e.partition->partition);
    case Pinning::kKey:
      // A null key orders by partition, as the dispatcher's lanes do.
      return e.kafka_key ? std::hash<std::string_view>{}(*e.kafka_key)
                         : static_cast<std::size_t>(e.partition->partition);
    case Pinning::kNone:
      break;
  }
  return next_worker_++;
}

void TransformStage::take(EventPtr event) {
  auto job = std::make_unique<TransformJob>();
  const std::size_t worker = workerFor(*event);
  job->event = std::move(event);
  job->generation = generation_;
  ++inside_;
  pool_.submit(worker, std::move(job));
}

std::vector<EventPtr> TransformStage::abandon(const PartitionState* partition) {
  std::vector<EventPtr> out;
  for (auto& job : pool_.withdraw([&](const TransformJob& j) {
         return partition == nullptr || j.event->partition.get() == partition;
       })) {
    out.push_back(std::move(job->event));
  }
  inside_ -= out.size();
  // What a worker has now comes back later and goes nowhere (serve()).
  if (partition == nullptr) ++generation_;
  return out;
}

void TransformStage::serve() {
  for (auto& job : pool_.take()) apply(std::move(job));
}

void TransformStage::apply(TransformJobPtr job) {
  --inside_;
  EventPtr& event = job->event;
  if (job->generation != generation_ || !event->partition->active) {
    exit().abandoned(std::move(event));
    return;
  }
  if (observer_) {
    if (job->pipeline) observer_({"pipeline", resultName(*job->pipeline), job->pipeline_took});
    for (std::size_t s = 0; s < job->sinks.size() && s < sink_names_.size(); ++s) {
      if (job->sinks[s]) observer_({sink_names_[s], resultName(*job->sinks[s]), job->sinks_took[s]});
    }
  }
  AppliedTransforms applied = applyResults(*job, sink_names_);
  if (applied.failure) {
    DeadLetterReason why;
    why.reason = "transform_failed";
    why.error = std::move(*applied.failure);
    exit().failed(std::move(event), std::move(why));
    return;
  }
  if (applied.transforms) {
    event->transforms = std::move(applied.transforms);
    if (event->transforms->body_set) event->body = event->transforms->body;
  }
  exit().passed(std::move(event));
}

}  // namespace sluice
