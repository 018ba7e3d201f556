#include "transform/transform_loader.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "transform/transform_instance.h"

namespace sluice {
std::optional<std::string> readModuleFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return std::move(bytes).str();
}

bool hasTransforms(const Config& config) {
  return config.transform ||
         std::any_of(config.sinks.begin(), config.sinks.end(),
                     [](const SinkConfig& s) { return s.transform.has_value(); });
}

std::size_t transformWorkers(const Config& config) {
  if (!hasTransforms(config)) return 0;
  std::uint32_t workers = config.transform ? config.transform->workers : 0;
  for (const auto& s : config.sinks) {
    if (s.transform) workers = std::max(workers, s.transform->workers);
  }
  return workers > 0 ? workers : std::max(1u, std::thread::hardware_concurrency());
}

TransformLimits limitsOf(const TransformConfig& t) {
  TransformLimits l;
  l.fuel = t.fuel;
  l.time = t.time;
  l.memory_bytes = t.memory_bytes;
  return l;
}

std::string compileSlot(const WasmEngine& engine, const std::string& file, TransformSlot& slot,
                        bool sink_transform) {
  const auto wasm = readModuleFile(file);
  if (!wasm) return "cannot read " + file;
  auto compiled = TransformModule::compile(engine, *wasm);
  if (auto* why = std::get_if<std::string>(&compiled)) return file + ": " + *why;
  slot.module = std::get<TransformModulePtr>(compiled);
  // One instance, thrown away: what each worker will do first.
  auto made = TransformInstance::create(engine, slot.module, slot.limits, slot.config,
                                        sink_transform);
  if (auto* why = std::get_if<std::string>(&made)) {
    slot.module.reset();
    return file + ": " + *why;
  }
  return "";
}

std::vector<std::string> loadTransforms(const Config& config, LoadedTransforms& out) {
  std::vector<std::string> problems;
  if (!hasTransforms(config)) return problems;
  WasmEngine::Options options;
  auto note = [&](const TransformConfig& t) {
    options.fuel = options.fuel || t.fuel > 0;
    options.epochs = options.epochs || t.time.count() > 0;
  };
  if (config.transform) note(*config.transform);
  for (const auto& s : config.sinks) {
    if (s.transform) note(*s.transform);
  }
  out.engine = std::make_unique<WasmEngine>(options);
  auto set = std::make_shared<TransformSet>();
  auto slot = [&](const TransformConfig& t, const std::string& name, const std::string& path,
                  bool sink_transform) -> std::optional<TransformSlot> {
    TransformSlot s;
    s.name = name;
    s.limits = limitsOf(t);
    s.config = t.config_json;
    if (std::string why = compileSlot(*out.engine, t.module, s, sink_transform); !why.empty()) {
      problems.push_back(path + ".module: " + why);
      return std::nullopt;
    }
    return s;
  };
  if (config.transform) set->pipeline = slot(*config.transform, "pipeline", "transform", false);
  set->sinks.resize(config.sinks.size());
  for (std::size_t i = 0; i < config.sinks.size(); ++i) {
    if (!config.sinks[i].transform) continue;
    set->sinks[i] = slot(*config.sinks[i].transform, config.sinks[i].name,
                         "sinks[" + std::to_string(i) + "].transform", true);
  }
  out.set = std::move(set);
  out.workers = transformWorkers(config);
  return problems;
}

}  // namespace sluice
