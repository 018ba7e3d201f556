#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "transform/wasm_handles.h"

namespace sluice {

// The wasmtime engine every transform module is compiled for and run by (thread-safe, one per
// process). Fuel metering and epoch interruption cost every module some speed, so each is on
// only when some transform has that limit.
class WasmEngine {
 public:
  struct Options {
    bool fuel = false;    // limits.fuel anywhere
    bool epochs = false;  // limits.time_ms anywhere: a thread ticks the epoch every kTick
  };
  static constexpr std::chrono::milliseconds kTick{1};

  explicit WasmEngine(Options options);  // throws at start-up
  ~WasmEngine();
  WasmEngine(const WasmEngine&) = delete;
  WasmEngine& operator=(const WasmEngine&) = delete;

  wasm_engine_t* get() const { return engine_.get(); }
  const Options& options() const { return options_; }

 private:
  Options options_;
  WasmEnginePtr engine_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace sluice
