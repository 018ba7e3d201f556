#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "transform/transform_set.h"
#include "util/unique_fd.h"

namespace sluice {

// Hot reload: reads every module file again, compiles and checks the ones whose bytes
// changed on a thread of its own (never the loop), and only when all of them pass publishes
// a new TransformSet; a module that fails leaves the whole old set running. Events not yet
// transformed then run with the new set, events already transformed keep their result.
class TransformReloader {
 public:
  // Compiles `file` into slot.module (slot's limits and config already set); "" on
  // success, else why not. The seam a test fills with a fake compiler.
  using Compiler = std::function<std::string(const std::string& file, TransformSlot& slot,
                                             bool sink_transform)>;
  struct Files {
    std::optional<std::string> pipeline;
    std::vector<std::optional<std::string>> sinks;
  };
  struct Outcome {  // what a reload did, for logs and metrics
    std::string transform;  // "pipeline" or the sink's name
    const char* result;     // "ok", "unchanged", "failed"
    std::string detail;     // the new version, or why it failed
  };
  using Observer = std::function<void(const Outcome&)>;

  TransformReloader(Files files, Compiler compile, std::function<TransformSetPtr()> current,
                    std::function<void(TransformSetPtr)> publish);
  ~TransformReloader();  // waits for a compile under way
  TransformReloader(const TransformReloader&) = delete;
  TransformReloader& operator=(const TransformReloader&) = delete;

  // Loop thread: reload now, or right after the one under way (`why` goes to the log).
  void request(const std::string& why);
  int fd() const { return done_fd_.get(); }
  // Loop thread, when fd() is readable: publishes (or not) what the compile made.
  void serve();
  void observe(Observer observer) { observer_ = std::move(observer); }
  bool busy() const { return running_; }

 private:
  struct Result {
    TransformSetPtr set;  // null: some module failed, or nothing changed
    std::vector<Outcome> outcomes;
  };
  void start(std::string why);
  Result compileAll(const TransformSetPtr& base);

  Files files_;
  Compiler compile_;
  std::function<TransformSetPtr()> current_;
  std::function<void(TransformSetPtr)> publish_;
  Observer observer_;
  UniqueFd done_fd_;
  std::thread worker_;
  bool running_ = false;
  std::optional<std::string> pending_;  // a request that came while compiling
  std::mutex mutex_;
  std::optional<Result> result_;
};

}  // namespace sluice
