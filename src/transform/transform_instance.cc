#include "transform/transform_instance.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

namespace sluice {
namespace {

wasmtime_val_t i32(std::uint32_t v) {
  wasmtime_val_t x;
  x.kind = WASMTIME_I32;
  x.of.i32 = static_cast<std::int32_t>(v);
  return x;
}

std::uint32_t u32(const wasmtime_val_t& v) { return static_cast<std::uint32_t>(v.of.i32); }

WasmFuncTypePtr i32Params(std::size_t n) {
  wasm_valtype_vec_t params;
  wasm_valtype_vec_new_uninitialized(&params, n);
  for (std::size_t i = 0; i < n; ++i) params.data[i] = wasm_valtype_new(WASM_I32);
  wasm_valtype_vec_t results;
  wasm_valtype_vec_new_empty(&results);
  return WasmFuncTypePtr(wasm_functype_new(&params, &results));  // takes both vectors
}

wasm_trap_t* trap(std::string_view message) {
  return wasmtime_trap_new(message.data(), message.size());
}

// A header a transform may set: an HTTP token for a name, no control characters in the value
// (a CR or LF would let a module write headers or requests of its own), and none of the
// headers sluice or HTTP itself owns.
// (Messages are appended, not built with operator+ on a literal: GCC 12 at -O3 reports a
// false -Wrestrict on that.)
std::optional<std::string> headerProblem(std::string_view name, std::string_view value) {
  static constexpr std::string_view kTokenSpecials = "!#$%&'*+-.^_`|~";
  if (name.empty()) return "an empty name";
  std::string why(name);
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && kTokenSpecials.find(c) == std::string_view::npos) {
      return why.append(" is not a header name");
    }
  }
  for (const char c : value) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
      return why.append(": its value has a control character");
    }
  }
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::string_view kOwned[] = {"host", "content-length", "transfer-encoding",
                                                "connection", "idempotency-key", "expect",
                                                "content-type"};
  if (lower.rfind("sluice-", 0) == 0 ||
      std::find(std::begin(kOwned), std::end(kOwned), lower) != std::end(kOwned)) {
    return why.append(" is sluice's to set");
  }
  return std::nullopt;
}

bool exportOf(wasmtime_context_t* cx, const wasmtime_instance_t* instance, std::string_view name,
              wasmtime_extern_t& out) {
  return wasmtime_instance_export_get(cx, instance, name.data(), name.size(), &out);
}

}  // namespace

TransformInstance::TransformInstance(const WasmEngine& engine, TransformModulePtr module,
                                     const TransformLimits& limits, bool sink_transform)
    : engine_(engine), module_(std::move(module)), limits_(limits),
      sink_transform_(sink_transform) {}

TransformInstance::~TransformInstance() = default;

std::variant<std::unique_ptr<TransformInstance>, std::string> TransformInstance::create(
    const WasmEngine& engine, TransformModulePtr module, const TransformLimits& limits,
    std::string_view config, bool sink_transform) {
  std::unique_ptr<TransformInstance> me(
      new TransformInstance(engine, std::move(module), limits, sink_transform));
  if (std::string problem = me->start(config); !problem.empty()) return problem;
  return me;
}

std::string TransformInstance::start(std::string_view config) {
  // The store's data is this instance: the host functions find it through their caller.
  store_.reset(wasmtime_store_new(engine_.get(), this, nullptr));
  wasmtime_store_limiter(store_.get(),
                         limits_.memory_bytes ? static_cast<std::int64_t>(limits_.memory_bytes) : -1,
                         -1, -1, -1, -1);
  linker_.reset(wasmtime_linker_new(engine_.get()));
  if (module_->exports().wasi) {
    // No files, no environment, no arguments; stdout and stderr go nowhere.
    if (WasmErrorPtr e(wasmtime_context_set_wasi(context(), wasi_config_new())); e) {
      return "WASI: " + wasmErrorText(e.get());
    }
    if (WasmErrorPtr e(wasmtime_linker_define_wasi(linker_.get())); e) {
      return "WASI: " + wasmErrorText(e.get());
    }
  }
  struct HostFunction {
    std::string_view name;
    std::size_t params;
    wasmtime_func_callback_t callback;
  };
  for (const HostFunction& f : {HostFunction{"set_body", 2, &setBody},
                                HostFunction{"set_header", 4, &setHeader},
                                HostFunction{"route", 2, &route}, HostFunction{"fail", 2, &fail}}) {
    const WasmFuncTypePtr type = i32Params(f.params);
    if (WasmErrorPtr e(wasmtime_linker_define_func(linker_.get(), "sluice", 6, f.name.data(),
                                                   f.name.size(), type.get(), f.callback,
                                                   nullptr, nullptr));
        e) {
      return "defining sluice." + std::string(f.name) + ": " + wasmErrorText(e.get());
    }
  }
  arm();
  wasm_trap_t* raw_trap = nullptr;
  WasmErrorPtr error(
      wasmtime_linker_instantiate(linker_.get(), context(), module_->get(), &instance_, &raw_trap));
  WasmTrapPtr trapped(raw_trap);
  if (error) return "cannot be instantiated: " + wasmErrorText(error.get());
  if (trapped) return "trapped while instantiated: " + wasmTrapText(trapped.get());

  wasmtime_extern_t item;
  auto func = [&](std::string_view name, wasmtime_func_t& out) {
    if (!exportOf(context(), &instance_, name, item) || item.kind != WASMTIME_EXTERN_FUNC) {
      return false;
    }
    out = item.of.func;
    return true;
  };
  if (!exportOf(context(), &instance_, "memory", item) || item.kind != WASMTIME_EXTERN_MEMORY) {
    return "exports no memory";
  }
  memory_ = item.of.memory;
  if (!func("sluice_alloc", alloc_) || !func("sluice_transform", transform_)) {
    return "exports no sluice_alloc or sluice_transform";
  }
  if (module_->exports().free) func("sluice_free", free_);
  if (wasmtime_func_t initialize; module_->exports().initialize && func("_initialize", initialize)) {
    if (auto e = call(initialize, nullptr, 0, nullptr, 0)) return "_initialize: " + *e;
  }
  wasmtime_func_t version;
  wasmtime_val_t result;
  if (!func("sluice_abi_version", version)) return "exports no sluice_abi_version";
  arm();
  if (auto e = call(version, nullptr, 0, &result, 1)) return "sluice_abi_version: " + *e;
  if (u32(result) != 1) {
    return "speaks transform ABI version " + std::to_string(u32(result)) +
           "; this sluice speaks 1 (proto/transform.md)";
  }
  if (wasmtime_func_t init; module_->exports().init && func("sluice_init", init)) {
    // The config goes through the event buffer: the module allocates it.
    TransformOutput out;
    current_ = &out;
    arm();
    wasmtime_val_t size = i32(static_cast<std::uint32_t>(config.size()));
    wasmtime_val_t ptr;
    if (auto e = call(alloc_, &size, 1, &ptr, 1)) return "sluice_alloc: " + *e;
    std::uint8_t* base = wasmtime_memory_data(context(), &memory_);
    const std::size_t span = wasmtime_memory_data_size(context(), &memory_);
    if (u32(ptr) == 0 || std::size_t{u32(ptr)} + config.size() > span) {
      return "sluice_alloc gave no room for the config";
    }
    if (!config.empty()) std::memcpy(base + u32(ptr), config.data(), config.size());
    const wasmtime_val_t args[2] = {ptr, size};
    arm();
    if (auto e = call(init, args, 2, &result, 1)) return "sluice_init: " + *e;
    current_ = nullptr;
    if (result.of.i32 != 0) {
      return "sluice_init refused its config" + (out.error.empty() ? "" : ": " + out.error);
    }
    if (module_->exports().free) {
      arm();
      call(free_, &ptr, 1, nullptr, 0);
    }
  }
  return "";
}

// Every call gets the transform's limits afresh. With the engine's fuel or epochs on, a store
// without fuel or a deadline would trap at once, so "no limit" is set as the largest one.
void TransformInstance::arm() {
  if (engine_.options().fuel) {
    wasmtime_context_set_fuel(context(), limits_.fuel ? limits_.fuel
                                                      : std::numeric_limits<std::uint64_t>::max());
  }
  if (engine_.options().epochs) {
    // +1: the tick under way is already partly gone.
    const std::uint64_t ticks =
        limits_.time.count() > 0
            ? static_cast<std::uint64_t>(limits_.time / WasmEngine::kTick) + 1
            : std::numeric_limits<std::uint64_t>::max() / 2;
    wasmtime_context_set_epoch_deadline(context(), ticks);
  }
}

std::optional<std::string> TransformInstance::call(const wasmtime_func_t& f,
                                                   const wasmtime_val_t* args, std::size_t nargs,
                                                   wasmtime_val_t* results, std::size_t nresults) {
  wasm_trap_t* raw = nullptr;
  WasmErrorPtr error(wasmtime_func_call(context(), &f, args, nargs, results, nresults, &raw));
  WasmTrapPtr trapped(raw);
  if (error) return wasmErrorText(error.get());
  if (!trapped) return std::nullopt;
  wasmtime_trap_code_t code;
  if (wasmtime_trap_code(trapped.get(), &code)) {
    if (code == WASMTIME_TRAP_CODE_OUT_OF_FUEL) {
      return "used up its fuel (limits.fuel: " + std::to_string(limits_.fuel) + ")";
    }
    if (code == WASMTIME_TRAP_CODE_INTERRUPT) {
      return "ran out of time (limits.time_ms: " + std::to_string(limits_.time.count()) + ")";
    }
  }
  return "trapped: " + wasmTrapText(trapped.get());
}

std::optional<std::string_view> TransformInstance::guestBytes(std::uint32_t ptr,
                                                              std::uint32_t len) {
  const std::size_t span = wasmtime_memory_data_size(context(), &memory_);
  if (std::size_t{ptr} + len > span) return std::nullopt;
  const std::uint8_t* base = wasmtime_memory_data(context(), &memory_);
  return std::string_view(reinterpret_cast<const char*>(base) + ptr, len);
}

TransformOutput TransformInstance::run(const TransformInput& in) {
  TransformOutput out;
  auto broken = [&](std::string why) {
    out.result = TransformOutput::Result::kFail;
    out.error = std::move(why);
    out.broken = true;
    current_ = nullptr;
    return std::move(out);
  };
  const auto size = layoutSize(in);
  if (!size) return broken("the event is too large to lay out (4 GiB)");
  if (*size > capacity_) {
    if (capacity_ > 0 && module_->exports().free) {
      arm();
      wasmtime_val_t old = i32(buffer_);
      if (auto e = call(free_, &old, 1, nullptr, 0)) return broken("sluice_free " + *e);
    }
    capacity_ = 0;
    arm();
    wasmtime_val_t want = i32(static_cast<std::uint32_t>(*size));
    wasmtime_val_t got;
    if (auto e = call(alloc_, &want, 1, &got, 1)) return broken("sluice_alloc " + *e);
    if (u32(got) == 0 || !guestBytes(u32(got), static_cast<std::uint32_t>(*size))) {
      return broken("sluice_alloc gave no room for a " + std::to_string(*size) +
                    "-byte event (limits.memory_bytes?)");
    }
    buffer_ = u32(got);
    capacity_ = static_cast<std::uint32_t>(*size);
  }
  writeLayout(in, wasmtime_memory_data(context(), &memory_) + buffer_);
  current_ = &out;
  arm();
  const wasmtime_val_t args[2] = {i32(buffer_), i32(static_cast<std::uint32_t>(*size))};
  wasmtime_val_t result;
  if (auto e = call(transform_, args, 2, &result, 1)) return broken(std::move(*e));
  current_ = nullptr;
  switch (result.of.i32) {
    case 0:
      out.result = TransformOutput::Result::kPass;
      break;
    case 1:
      out.result = TransformOutput::Result::kDrop;
      break;
    case 2:
      out.result = TransformOutput::Result::kFail;
      if (out.error.empty()) out.error = "the module failed the event without a reason";
      break;
    default:
      return broken("sluice_transform returned " + std::to_string(result.of.i32) +
                    " (0 pass, 1 drop, 2 fail)");
  }
  return out;
}

namespace {

TransformInstance* self(wasmtime_caller_t* caller) {
  return static_cast<TransformInstance*>(wasmtime_context_get_data(wasmtime_caller_context(caller)));
}

}  // namespace

// The host functions: each copies what the module gives it at once. A pointer outside the
// module's memory is a trap (the event fails), never a read elsewhere.
wasm_trap_t* TransformInstance::setBody(void*, wasmtime_caller_t* caller,
                                        const wasmtime_val_t* args, std::size_t,
                                        wasmtime_val_t*, std::size_t) {
  TransformInstance* me = self(caller);
  if (me->current_ == nullptr) return trap("set_body outside sluice_transform");
  const auto body = me->guestBytes(u32(args[0]), u32(args[1]));
  if (!body) return trap("set_body: the bytes are outside the module's memory");
  me->current_->body = std::string(*body);
  return nullptr;
}

wasm_trap_t* TransformInstance::setHeader(void*, wasmtime_caller_t* caller,
                                          const wasmtime_val_t* args, std::size_t,
                                          wasmtime_val_t*, std::size_t) {
  TransformInstance* me = self(caller);
  if (me->current_ == nullptr) return trap("set_header outside sluice_transform");
  const auto name = me->guestBytes(u32(args[0]), u32(args[1]));
  const auto value = me->guestBytes(u32(args[2]), u32(args[3]));
  if (!name || !value) return trap("set_header: the bytes are outside the module's memory");
  if (auto why = headerProblem(*name, *value)) return trap("set_header: " + *why);
  auto& headers = me->current_->headers;
  for (auto& [n, v] : headers) {
    if (n.size() == name->size() &&
        std::equal(n.begin(), n.end(), name->begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      v = std::string(*value);
      return nullptr;
    }
  }
  headers.emplace_back(std::string(*name), std::string(*value));
  return nullptr;
}

wasm_trap_t* TransformInstance::route(void*, wasmtime_caller_t* caller, const wasmtime_val_t* args,
                                      std::size_t, wasmtime_val_t*, std::size_t) {
  TransformInstance* me = self(caller);
  if (me->current_ == nullptr) return trap("route outside sluice_transform");
  if (me->sink_transform_) return trap("route is for the pipeline transform, not a sink's");
  const auto sink = me->guestBytes(u32(args[0]), u32(args[1]));
  if (!sink) return trap("route: the bytes are outside the module's memory");
  me->current_->routes.emplace_back(*sink);
  return nullptr;
}

wasm_trap_t* TransformInstance::fail(void*, wasmtime_caller_t* caller, const wasmtime_val_t* args,
                                     std::size_t, wasmtime_val_t*, std::size_t) {
  TransformInstance* me = self(caller);
  if (me->current_ == nullptr) return trap("fail outside sluice_transform or sluice_init");
  const auto reason = me->guestBytes(u32(args[0]), u32(args[1]));
  if (!reason) return trap("fail: the bytes are outside the module's memory");
  me->current_->error = std::string(*reason);
  return nullptr;
}

}  // namespace sluice
