#include "pipeline/transform_stage.h"

#include <algorithm>
#include <functional>

#include "pipeline/transform_headers.h"

namespace sluice {

AppliedTransforms applyPipelineResult(TransformOutput out, std::string_view version,
                                      const std::vector<std::string>& sink_names) {
  AppliedTransforms applied;
  const std::string where = "transform pipeline (" + std::string(version) + ")";
  if (out.result == TransformOutput::Result::kFail) {
    applied.failure = where + ": " + out.error;
    return applied;
  }
  auto t = std::make_unique<EventTransforms>();
  t->sinks.resize(sink_names.size());
  t->headers = std::move(out.headers);
  t->headers.emplace_back(kTransformVersionHeader, std::string(version));
  if (out.result == TransformOutput::Result::kDrop) {
    for (auto& s : t->sinks) s.skip = true;
    applied.transforms = std::move(t);
    return applied;
  }
  if (out.body) {
    t->body = std::move(*out.body);
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
      t->sinks[s].skip =
          std::find(out.routes.begin(), out.routes.end(), sink_names[s]) == out.routes.end();
    }
  }
  applied.transforms = std::move(t);
  return applied;
}

std::size_t pinnedWorker(TransformStage::Pinning pinning, const Event& e, std::size_t next) {
  switch (pinning) {
    case TransformStage::Pinning::kPartition:
      return std::hash<std::string>{}(e.partition->topic) * 31 +
             static_cast<std::size_t>(e.partition->partition);
    case TransformStage::Pinning::kKey:
      // A null key orders by partition, as the dispatcher's lanes do.
      return e.kafka_key ? std::hash<std::string_view>{}(*e.kafka_key)
                         : static_cast<std::size_t>(e.partition->partition);
    case TransformStage::Pinning::kNone:
      break;
  }
  return next;
}

TransformStage::TransformStage(TransformPool& pool, std::vector<std::string> sink_names,
                               Pinning pinning)
    : pool_(pool), sink_names_(std::move(sink_names)), pinning_(pinning) {}

void TransformStage::take(EventPtr event) {
  auto job = std::make_unique<TransformJob>();
  const std::size_t worker = pinnedWorker(pinning_, *event, next_worker_++);
  job->event = std::move(event);
  job->generation = generation_;
  ++inside_;
  pool_.submit(worker, std::move(job));
}

std::vector<EventPtr> TransformStage::abandon(const PartitionState* partition) {
  std::vector<EventPtr> out;
  for (auto& job : pool_.withdraw([&](const TransformJob& j) {
         return !j.forSink() && (partition == nullptr || j.event->partition.get() == partition);
       })) {
    out.push_back(std::move(job->event));
  }
  inside_ -= out.size();
  // What a worker has now comes back later and goes nowhere (apply()).
  if (partition == nullptr) ++generation_;
  return out;
}

void TransformStage::apply(TransformJobPtr job) {
  --inside_;
  EventPtr& event = job->event;
  if (job->generation != generation_ || !event->partition->active) {
    exit().abandoned(std::move(event));
    return;
  }
  if (!job->output) {  // cannot happen: this stage exists because the set has a pipeline
    exit().passed(std::move(event));
    return;
  }
  if (observer_) observer_({"pipeline", resultName(*job->output), job->took});
  AppliedTransforms applied =
      applyPipelineResult(std::move(*job->output), job->set->pipeline->module->version(), sink_names_);
  if (applied.failure) {
    DeadLetterReason why;
    why.reason = "transform_failed";
    why.error = std::move(*applied.failure);
    exit().failed(std::move(event), std::move(why));
    return;
  }
  event->transforms = std::move(applied.transforms);
  if (event->transforms->body_set) event->body = event->transforms->body;
  exit().passed(std::move(event));
}

}  // namespace sluice
