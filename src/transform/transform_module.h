#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "transform/wasm_engine.h"

namespace sluice {

// A transform module compiled for the engine, with its exports and imports checked against
// ABI version 1 (proto/transform.md). Immutable and shared by every worker's instances.
class TransformModule {
 public:
  struct Exports {
    bool init = false;        // sluice_init
    bool free = false;        // sluice_free
    bool initialize = false;  // _initialize (a WASI reactor's constructors)
    bool wasi = false;        // imports WASI
  };

  // The module, or why it cannot be one (a compile error, a missing or mistyped export, an
  // import sluice does not offer). Slow (compiles): off the event loop.
  static std::variant<std::shared_ptr<const TransformModule>, std::string> compile(
      const WasmEngine& engine, std::string_view wasm);

  wasmtime_module_t* get() const { return module_.get(); }
  const Exports& exports() const { return exports_; }
  const std::string& sha256() const { return sha256_; }  // hex, of the bytes compiled
  // What requests say of it (Sluice-Transform-Version): the first 16 hex digits.
  std::string_view version() const { return std::string_view(sha256_).substr(0, 16); }

  TransformModule(WasmModulePtr module, Exports exports, std::string sha256)
      : module_(std::move(module)), exports_(exports), sha256_(std::move(sha256)) {}

 private:
  WasmModulePtr module_;
  Exports exports_;
  std::string sha256_;
};
using TransformModulePtr = std::shared_ptr<const TransformModule>;

std::string sha256Hex(std::string_view bytes);

}  // namespace sluice
