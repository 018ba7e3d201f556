#include "transform/wasm_engine.h"

#include <stdexcept>

namespace sluice {

WasmEngine::WasmEngine(Options options) : options_(options) {
  WasmConfigPtr config(wasm_config_new());
  wasmtime_config_consume_fuel_set(config.get(), options_.fuel);
  wasmtime_config_epoch_interruption_set(config.get(), options_.epochs);
  engine_.reset(wasm_engine_new_with_config(config.release()));  // takes the config
  if (!engine_) throw std::runtime_error("transforms: the WebAssembly engine did not start");
  if (options_.epochs) {
    ticker_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      while (!stop_.wait_for(lock, kTick, [this] { return stopping_; })) {
        wasmtime_engine_increment_epoch(engine_.get());
      }
    });
  }
}

WasmEngine::~WasmEngine() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_one();
  if (ticker_.joinable()) ticker_.join();
}

}  // namespace sluice
