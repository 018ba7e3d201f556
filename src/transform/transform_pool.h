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
#include "transform/transform_set.h"
#include "util/unique_fd.h"

namespace sluice {

// One event's way through the transforms, from the loop to a worker and back.
struct TransformJob {
  EventPtr event;
  std::uint64_t generation = 0;  // the stage's, when submitted (abandon-all bumps it)
  // Filled in by the worker:
  TransformSetPtr set;                       // the version that ran
  std::optional<TransformOutput> pipeline;   // the pipeline transform's result, if it ran
  std::vector<std::optional<TransformOutput>> sinks;  // each sink transform's, if it ran
  std::chrono::nanoseconds pipeline_took{0};
  std::vector<std::chrono::nanoseconds> sinks_took;
};
using TransformJobPtr = std::unique_ptr<TransformJob>;

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

  const WasmEngine& engine_;
  UniqueFd done_fd_;
  mutable std::mutex mutex_;
  bool stopping_ = false;
  TransformSetPtr set_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<TransformJobPtr> done_;
};

}  // namespace sluice
