#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "delivery/event.h"
#include "transform/event_layout.h"
#include "transform/transform_set.h"
#include "util/unique_fd.h"

namespace sluice {

// One transform to run for one event, from the loop to a worker and back. Either the
// pipeline transform (the job carries the event) or one sink's transform (the dispatcher keeps
// the event and delivers it to the other sinks meanwhile; the job reads it through `input`,
// views made on the loop, and the event is kept until the job is back).
struct TransformJob {
  EventPtr event;                 // a pipeline job's event
  const Event* source = nullptr;  // a sink job's event
  TransformInput input;           // a sink job's view of it
  std::uint64_t token = 0;        // a sink job: the dispatcher's delivery
  std::uint32_t sink = 0;         // a sink job: which sink's transform
  std::uint64_t generation = 0;   // the submitter's, when submitted
  // Filled in by the worker:
  TransformSetPtr set;                    // the version that ran
  std::optional<TransformOutput> output;  // none if it did not run (no such transform)
  std::chrono::nanoseconds took{0};
  bool forSink() const { return source != nullptr; }
};
using TransformJobPtr = std::unique_ptr<TransformJob>;

// What the transforms see of an event: its Kafka record, with the body the pipeline transform
// left. Views into the event; reading its headers parses them (once, in the message), so a
// sink job's input is made on the loop, never by two workers at once.
TransformInput inputOf(const Event& event);

// What a transform's result is called in metrics: ok, dropped, routed, failed.
const char* resultName(const TransformOutput& out);

struct TransformOutcome {  // for metrics: one per transform that ran
  std::string_view transform;  // "pipeline" or the sink's name
  const char* result;          // resultName()
  std::chrono::nanoseconds took;
};

// Threads that run transforms, so that guest code never runs on the event loop. Each worker
// has a queue of its own (the stage picks the worker: a partition or key always goes to the
// same one, which keeps their order) and one instance per transform of the current set,
// made when first needed and made again after a failure or a new set. Finished jobs come
// back through take(), signalled on fd().
class TransformPool {
 public:
  TransformPool(const WasmEngine& engine, std::size_t workers);  // throws at start-up
  ~TransformPool();  // stops the workers; queued jobs are dropped
  TransformPool(const TransformPool&) = delete;
  TransformPool& operator=(const TransformPool&) = delete;

  std::size_t workers() const { return workers_.size(); }
  // Jobs that have not started yet run with `set`; running ones finish with theirs.
  void publish(TransformSetPtr set);
  TransformSetPtr current() const;
  void submit(std::size_t worker, TransformJobPtr job);
  // Queued jobs that match, taken back before any worker starts them.
  std::vector<TransformJobPtr> withdraw(const std::function<bool(const TransformJob&)>& match);
  int fd() const { return done_fd_.get(); }
  std::vector<TransformJobPtr> take();  // the loop, when fd() is readable
  std::size_t queued() const;           // waiting for a worker
  std::size_t running() const;          // inside one

 private:
  struct Worker {
    std::deque<TransformJobPtr> jobs;
    std::condition_variable wake;
    bool busy = false;
    std::thread thread;
  };
  void work(Worker& worker);
  void run(TransformJob& job, std::vector<std::unique_ptr<TransformInstance>>& instances,
           TransformSetPtr& made_for);
  TransformOutput apply(std::unique_ptr<TransformInstance>& instance, const TransformSlot& slot,
                        const TransformInput& in, bool sink_transform);

  const WasmEngine& engine_;
  UniqueFd done_fd_;
  mutable std::mutex mutex_;
  bool stopping_ = false;
  TransformSetPtr set_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<TransformJobPtr> done_;
};

}  // namespace sluice
