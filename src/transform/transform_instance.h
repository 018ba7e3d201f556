#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "transform/event_layout.h"
#include "transform/transform_module.h"

namespace sluice {

// Per-event limits of one transform; 0 means none.
struct TransformLimits {
  std::uint64_t fuel = 0;             // wasm instructions, roughly (needs the engine's fuel)
  std::chrono::milliseconds time{0};  // wall time (needs the engine's epochs)
  std::uint64_t memory_bytes = 0;     // the instance's linear memory
};

// What a transform made of one event.
struct TransformOutput {
  enum class Result { kPass, kDrop, kFail };
  Result result = Result::kPass;
  std::optional<std::string> body;                           // replaced body, if set
  std::vector<std::pair<std::string, std::string>> headers;  // in the order set, names as given
  std::vector<std::string> routes;                           // sinks named by route()
  std::string error;    // kFail: the module's reason or the trap
  bool broken = false;  // a trap, a limit or a malformed result: make the instance again
};

// One instance of a module, in a store of its own, for one worker thread at a time (a
// wasmtime store is not thread-safe). Keeps its memory from event to event.
class TransformInstance {
 public:
  // Instantiates `module`, runs its constructors, checks its ABI version and gives
  // sluice_init `config`; or says why not. `sink_transform`: route() is refused.
  static std::variant<std::unique_ptr<TransformInstance>, std::string> create(
      const WasmEngine& engine, TransformModulePtr module, const TransformLimits& limits,
      std::string_view config, bool sink_transform);
  ~TransformInstance();
  TransformInstance(const TransformInstance&) = delete;
  TransformInstance& operator=(const TransformInstance&) = delete;

  // Runs the transform on one event. Never throws; a failure is a value.
  TransformOutput run(const TransformInput& in);
  const TransformModulePtr& module() const { return module_; }

 private:
  TransformInstance(const WasmEngine& engine, TransformModulePtr module,
                    const TransformLimits& limits, bool sink_transform);
  std::string start(std::string_view config);
  void arm();
  // Calls `f`; the trap or error text (with what a limit means), or nullopt.
  std::optional<std::string> call(const wasmtime_func_t& f, const wasmtime_val_t* args,
                                  std::size_t nargs, wasmtime_val_t* results,
                                  std::size_t nresults);
  std::optional<std::string_view> guestBytes(std::uint32_t ptr, std::uint32_t len);
  wasmtime_context_t* context() { return wasmtime_store_context(store_.get()); }

  static wasm_trap_t* setBody(void*, wasmtime_caller_t*, const wasmtime_val_t*, std::size_t,
                              wasmtime_val_t*, std::size_t);
  static wasm_trap_t* setHeader(void*, wasmtime_caller_t*, const wasmtime_val_t*, std::size_t,
                                wasmtime_val_t*, std::size_t);
  static wasm_trap_t* route(void*, wasmtime_caller_t*, const wasmtime_val_t*, std::size_t,
                            wasmtime_val_t*, std::size_t);
  static wasm_trap_t* fail(void*, wasmtime_caller_t*, const wasmtime_val_t*, std::size_t,
                           wasmtime_val_t*, std::size_t);

  const WasmEngine& engine_;
  TransformModulePtr module_;
  TransformLimits limits_;
  bool sink_transform_;
  WasmStorePtr store_;
  WasmLinkerPtr linker_;
  wasmtime_instance_t instance_{};
  wasmtime_memory_t memory_{};
  wasmtime_func_t alloc_{}, free_{}, transform_{};
  std::uint32_t buffer_ = 0;    // the event buffer in the module's memory
  std::uint32_t capacity_ = 0;  // its size; 0: none yet
  TransformOutput* current_ = nullptr;  // what the host functions fill in
};

}  // namespace sluice
