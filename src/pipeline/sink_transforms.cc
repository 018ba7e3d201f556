#include "pipeline/sink_transforms.h"

#include <algorithm>

#include "pipeline/transform_headers.h"

namespace sluice {

Dispatcher::Preparation sinkPreparation(TransformOutput out, std::string_view sink,
                                        std::string_view version, const Event& event) {
  Dispatcher::Preparation p;
  switch (out.result) {
    case TransformOutput::Result::kFail:
      p.kind = Dispatcher::Preparation::Kind::kFail;
      p.error = std::string("transform of sink ").append(sink).append(" (").append(version)
                    .append("): ").append(out.error);
      return p;
    case TransformOutput::Result::kDrop:
      p.kind = Dispatcher::Preparation::Kind::kSkip;
      return p;
    case TransformOutput::Result::kPass:
      break;
  }
  p.body = std::move(out.body);
  p.headers = std::move(out.headers);
  // Which modules made this request: the pipeline's, if one ran, and this sink's.
  std::string versions(version);
  const auto& shared = event.headers();
  const auto pipeline = std::find_if(shared.begin(), shared.end(), [](const auto& h) {
    return h.first == kTransformVersionHeader;
  });
  if (pipeline != shared.end()) versions = std::string(pipeline->second).append(", ").append(version);
  p.headers.emplace_back(kTransformVersionHeader, std::move(versions));
  return p;
}

SinkTransforms::SinkTransforms(TransformPool& pool, Dispatcher& dispatcher,
                               std::vector<TransformStage::Pinning> pinning, Release release)
    : pool_(pool), dispatcher_(dispatcher), pinning_(std::move(pinning)), release_(std::move(release)) {
  dispatcher_.prepareWith([this](std::uint64_t token, const Event& event, std::uint32_t sink) {
    submit(token, event, sink);
  });
}

SinkTransforms::~SinkTransforms() { dispatcher_.prepareWith(nullptr); }

void SinkTransforms::submit(std::uint64_t token, const Event& event, std::uint32_t sink) {
  auto job = std::make_unique<TransformJob>();
  job->source = &event;
  job->input = inputOf(event);
  job->token = token;
  job->sink = sink;
  const auto pinning = sink < pinning_.size() ? pinning_[sink] : TransformStage::Pinning::kNone;
  const std::size_t worker = pinnedWorker(pinning, event, next_worker_++);
  ++jobs_of_[&event];
  ++inside_;
  pool_.submit(worker, std::move(job));
}

void SinkTransforms::finished(const Event* event) {
  --inside_;
  auto it = jobs_of_.find(event);
  if (it == jobs_of_.end() || --it->second > 0) return;
  jobs_of_.erase(it);
  if (auto kit = kept_.find(event); kit != kept_.end()) {
    EventPtr e = std::move(kit->second);
    kept_.erase(kit);
    release_(std::move(e));
  }
}

void SinkTransforms::apply(TransformJobPtr job) {
  const Event* event = job->source;
  if (!kept_.contains(event)) {  // otherwise abandoned: the result goes nowhere
    if (job->output) {
      const std::string_view name = dispatcher_.sinkName(job->sink);
      if (observer_) observer_({name, resultName(*job->output), job->took});
      dispatcher_.prepared(job->token,
                           sinkPreparation(std::move(*job->output), name,
                                           job->set->sinks[job->sink]->module->version(), *event));
    } else {  // no transform for this sink in the set: cannot happen, sent as it is
      dispatcher_.prepared(job->token, {});
    }
  }
  finished(event);
}

void SinkTransforms::withdraw(const PartitionState* partition) {
  for (auto& job : pool_.withdraw([&](const TransformJob& j) {
         return j.forSink() && (partition == nullptr || j.source->partition.get() == partition);
       })) {
    finished(job->source);
  }
}

std::vector<EventPtr> SinkTransforms::keep(std::vector<EventPtr> abandoned) {
  std::vector<EventPtr> out;
  out.reserve(abandoned.size());
  for (auto& e : abandoned) {
    if (jobs_of_.contains(e.get())) {
      const Event* key = e.get();
      kept_.emplace(key, std::move(e));
    } else {
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace sluice
