#include "transform/transform_module.h"

#include <openssl/evp.h>

#include <array>
#include <map>
#include <vector>

namespace sluice {
namespace {

using Kinds = std::vector<wasm_valkind_t>;
struct Signature {
  Kinds params;
  Kinds results;
};

const std::map<std::string, Signature, std::less<>>& requiredExports() {
  static const std::map<std::string, Signature, std::less<>> m{
      {"sluice_abi_version", {{}, {WASM_I32}}},
      {"sluice_alloc", {{WASM_I32}, {WASM_I32}}},
      {"sluice_transform", {{WASM_I32, WASM_I32}, {WASM_I32}}},
  };
  return m;
}

const std::map<std::string, Signature, std::less<>>& optionalExports() {
  static const std::map<std::string, Signature, std::less<>> m{
      {"sluice_free", {{WASM_I32}, {}}},
      {"sluice_init", {{WASM_I32, WASM_I32}, {WASM_I32}}},
      {"_initialize", {{}, {}}},
  };
  return m;
}

const std::map<std::string, Signature, std::less<>>& hostImports() {
  static const std::map<std::string, Signature, std::less<>> m{
      {"set_body", {{WASM_I32, WASM_I32}, {}}},
      {"set_header", {{WASM_I32, WASM_I32, WASM_I32, WASM_I32}, {}}},
      {"route", {{WASM_I32, WASM_I32}, {}}},
      {"fail", {{WASM_I32, WASM_I32}, {}}},
  };
  return m;
}

Kinds kinds(const wasm_valtype_vec_t* v) {
  Kinds out;
  for (std::size_t i = 0; i < v->size; ++i) out.push_back(wasm_valtype_kind(v->data[i]));
  return out;
}

bool matches(const wasm_externtype_t* type, const Signature& want) {
  if (wasm_externtype_kind(type) != WASM_EXTERN_FUNC) return false;
  const wasm_functype_t* f = wasm_externtype_as_functype_const(type);
  return kinds(wasm_functype_params(f)) == want.params &&
         kinds(wasm_functype_results(f)) == want.results;
}

std::string name(const wasm_name_t* n) { return std::string(n->data, n->size); }

// Checks what the module exports; fills `exports`; returns the first problem, or "".
std::string checkExports(const wasmtime_module_t* module, TransformModule::Exports& exports) {
  wasm_exporttype_vec_t list;
  wasmtime_module_exports(module, &list);
  std::map<std::string, const wasm_externtype_t*> found;
  for (std::size_t i = 0; i < list.size; ++i) {
    found[name(wasm_exporttype_name(list.data[i]))] = wasm_exporttype_type(list.data[i]);
  }
  std::string problem;
  if (auto m = found.find("memory");
      m == found.end() || wasm_externtype_kind(m->second) != WASM_EXTERN_MEMORY) {
    problem = "exports no memory named \"memory\"";
  }
  for (const auto& [fn, sig] : requiredExports()) {
    if (!problem.empty()) break;
    auto it = found.find(fn);
    if (it == found.end()) problem = "does not export " + fn;
    else if (!matches(it->second, sig)) problem = "exports " + fn + " with another signature";
  }
  for (const auto& [fn, sig] : optionalExports()) {
    if (!problem.empty()) break;
    auto it = found.find(fn);
    if (it == found.end()) continue;
    if (!matches(it->second, sig)) problem = "exports " + fn + " with another signature";
    if (fn == "sluice_free") exports.free = true;
    if (fn == "sluice_init") exports.init = true;
    if (fn == "_initialize") exports.initialize = true;
  }
  wasm_exporttype_vec_delete(&list);
  return problem;
}

std::string checkImports(const wasmtime_module_t* module, TransformModule::Exports& exports) {
  wasm_importtype_vec_t list;
  wasmtime_module_imports(module, &list);
  std::string problem;
  for (std::size_t i = 0; i < list.size && problem.empty(); ++i) {
    const std::string from = name(wasm_importtype_module(list.data[i]));
    const std::string what = name(wasm_importtype_name(list.data[i]));
    if (from == "wasi_snapshot_preview1") {
      exports.wasi = true;  // the linker says if it is one WASI has
      continue;
    }
    auto it = hostImports().find(what);
    if (from != "sluice" || it == hostImports().end()) {
      problem = "imports " + from + "." + what + ", which sluice does not offer (ABI 1 offers "
                "sluice.set_body, set_header, route, fail and WASI)";
    } else if (!matches(wasm_importtype_type(list.data[i]), it->second)) {
      problem = "imports sluice." + what + " with another signature";
    }
  }
  wasm_importtype_vec_delete(&list);
  return problem;
}

}  // namespace

std::string sha256Hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

std::variant<TransformModulePtr, std::string> TransformModule::compile(const WasmEngine& engine,
                                                                       std::string_view wasm) {
  wasmtime_module_t* raw = nullptr;
  WasmErrorPtr error(wasmtime_module_new(engine.get(),
                                         reinterpret_cast<const std::uint8_t*>(wasm.data()),
                                         wasm.size(), &raw));
  if (error) return "does not compile: " + wasmErrorText(error.get());
  WasmModulePtr module(raw);
  Exports exports;
  if (std::string p = checkExports(module.get(), exports); !p.empty()) return p;
  if (std::string p = checkImports(module.get(), exports); !p.empty()) return p;
  return std::make_shared<const TransformModule>(std::move(module), exports, sha256Hex(wasm));
}

}  // namespace sluice
