#pragma once

#include <wasmtime.h>

#include <memory>
#include <string>

#include "util/fn_deleter.h"

namespace sluice {

// Owners of wasmtime's C handles (wasmtime.h), and the texts of its errors and traps.
using WasmConfigPtr = std::unique_ptr<wasm_config_t, FnDeleter<wasm_config_delete>>;
using WasmEnginePtr = std::unique_ptr<wasm_engine_t, FnDeleter<wasm_engine_delete>>;
using WasmModulePtr = std::unique_ptr<wasmtime_module_t, FnDeleter<wasmtime_module_delete>>;
using WasmStorePtr = std::unique_ptr<wasmtime_store_t, FnDeleter<wasmtime_store_delete>>;
using WasmLinkerPtr = std::unique_ptr<wasmtime_linker_t, FnDeleter<wasmtime_linker_delete>>;
using WasmErrorPtr = std::unique_ptr<wasmtime_error_t, FnDeleter<wasmtime_error_delete>>;
using WasmTrapPtr = std::unique_ptr<wasm_trap_t, FnDeleter<wasm_trap_delete>>;
using WasmFuncTypePtr = std::unique_ptr<wasm_functype_t, FnDeleter<wasm_functype_delete>>;

std::string wasmErrorText(const wasmtime_error_t* error);
std::string wasmTrapText(const wasm_trap_t* trap);

}  // namespace sluice
