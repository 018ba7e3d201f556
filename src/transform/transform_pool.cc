#include "transform/transform_pool.h"

#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace sluice {
namespace {

TransformOutput couldNotStart(std::string why) {
  TransformOutput out;
  out.result = TransformOutput::Result::kFail;
  out.error = "could not start an instance: " + std::move(why);
  out.broken = true;
  return out;
}

}  // namespace

TransformInput inputOf(const Event& e) {
  TransformInput in;
  in.offset = e.offset;
  in.timestamp_ms = e.timestamp_ms;
  in.partition = e.partition->partition;
  in.topic = e.partition->topic;
  in.key = e.kafka_key;
  in.value = e.body;
  if (const rd_kafka_headers_t* headers = e.record_headers.get(); headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      in.headers.emplace_back(name, value ? std::optional<std::string_view>(std::string_view(
                                                static_cast<const char*>(value), size))
                                          : std::nullopt);
    }
  }
  return in;
}

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

TransformPool::TransformPool(const WasmEngine& engine, std::size_t workers)
    : engine_(engine), done_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!done_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_) w->thread = std::thread([this, w = w.get()] { work(*w); });
}

TransformPool::~TransformPool() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  for (auto& w : workers_) w->wake.notify_one();
  for (auto& w : workers_) w->thread.join();
}

void TransformPool::publish(TransformSetPtr set) {
  const std::lock_guard lock(mutex_);
  set_ = std::move(set);
}

TransformSetPtr TransformPool::current() const {
  const std::lock_guard lock(mutex_);
  return set_;
}

void TransformPool::submit(std::size_t worker, TransformJobPtr job) {
  Worker& w = *workers_[worker % workers_.size()];
  {
    const std::lock_guard lock(mutex_);
    w.jobs.push_back(std::move(job));
  }
  w.wake.notify_one();
}

std::vector<TransformJobPtr> TransformPool::withdraw(
    const std::function<bool(const TransformJob&)>& match) {
  std::vector<TransformJobPtr> out;
  const std::lock_guard lock(mutex_);
  for (auto& w : workers_) {
    for (auto it = w->jobs.begin(); it != w->jobs.end();) {
      if (match(**it)) {
        out.push_back(std::move(*it));
        it = w->jobs.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

std::vector<TransformJobPtr> TransformPool::take() {
  std::uint64_t n = 0;
  [[maybe_unused]] const auto r = ::read(done_fd_.get(), &n, sizeof n);
  const std::lock_guard lock(mutex_);
  return std::exchange(done_, {});
}

std::size_t TransformPool::queued() const {
  const std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->jobs.size();
  return n;
}

std::size_t TransformPool::running() const {
  const std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->busy ? 1 : 0;
  return n;
}

void TransformPool::work(Worker& worker) {
  // This worker's instances: [0] the pipeline transform, [1 + s] sink s's; for one set.
  std::vector<std::unique_ptr<TransformInstance>> instances;
  TransformSetPtr made_for;
  std::unique_lock lock(mutex_);
  while (true) {
    worker.wake.wait(lock, [&] { return stopping_ || !worker.jobs.empty(); });
    if (stopping_) return;
    TransformJobPtr job = std::move(worker.jobs.front());
    worker.jobs.pop_front();
    job->set = set_;  // the version current when the job starts
    worker.busy = true;
    lock.unlock();
    run(*job, instances, made_for);
    lock.lock();
    worker.busy = false;
    const bool was_empty = done_.empty();
    done_.push_back(std::move(job));
    if (was_empty) {
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto w = ::write(done_fd_.get(), &one, sizeof one);
    }
  }
}

TransformOutput TransformPool::apply(std::unique_ptr<TransformInstance>& instance,
                                     const TransformSlot& slot, const TransformInput& in,
                                     bool sink_transform) {
  if (!instance) {  // made when first needed, and again after a failure
    auto made =
        TransformInstance::create(engine_, slot.module, slot.limits, slot.config, sink_transform);
    if (auto* why = std::get_if<std::string>(&made)) return couldNotStart(std::move(*why));
    instance = std::move(std::get<std::unique_ptr<TransformInstance>>(made));
  }
  TransformOutput out = instance->run(in);
  if (out.broken) instance.reset();
  return out;
}

void TransformPool::run(TransformJob& job, std::vector<std::unique_ptr<TransformInstance>>& instances,
                        TransformSetPtr& made_for) {
  const TransformSet& set = *job.set;
  if (job.set != made_for) {  // a new version: its instances are made as needed
    instances.clear();
    instances.resize(1 + set.sinks.size());
    made_for = job.set;
  }
  const auto started = std::chrono::steady_clock::now();
  if (job.forSink()) {
    if (job.sink >= set.sinks.size() || !set.sinks[job.sink]) return;
    const TransformSlot& slot = *set.sinks[job.sink];
    TransformInput& in = job.input;
    in.sink = slot.name;
    job.output = apply(instances[1 + job.sink], slot, in, true);
  } else {
    if (!set.pipeline) return;
    job.output = apply(instances[0], *set.pipeline, inputOf(*job.event), false);
  }
  job.took = std::chrono::steady_clock::now() - started;
}

}  // namespace sluice
