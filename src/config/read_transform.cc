#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "config/file_checks.h"
#include "config/section_readers.h"

namespace sluice::config_detail {
namespace {

// `config` as JSON for the module: mappings become objects, sequences arrays; a plain scalar
// that reads as a boolean, an integer or a number becomes one, anything else (and every
// quoted scalar) a string; `~` and null become null.
void writeJson(const YAML::Node& n, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      w.StartObject();
      for (const auto& kv : n) {
        const auto key = kv.first.as<std::string>();
        w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
        writeJson(kv.second, w);
      }
      w.EndObject();
      return;
    case YAML::NodeType::Sequence:
      w.StartArray();
      for (const auto& item : n) writeJson(item, w);
      w.EndArray();
      return;
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "!") {  // plain, not quoted
        bool b = false;
        long long i = 0;
        double d = 0;
        if (s == "null" || s == "~") {
          w.Null();
          return;
        }
        if (YAML::convert<bool>::decode(n, b)) {
          w.Bool(b);
          return;
        }
        if (YAML::convert<long long>::decode(n, i)) {
          w.Int64(i);
          return;
        }
        if (YAML::convert<double>::decode(n, d)) {
          w.Double(d);
          return;
        }
      }
      w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
      return;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      w.Null();
      return;
  }
}

}  // namespace

void readTransform(Reader& r, const YAML::Node& node, const std::string& path,
                   std::optional<TransformConfig>& out, const std::filesystem::path& base) {
  if (!r.optionalMap(node, path, {"module", "config", "limits", "workers"})) return;
  TransformConfig t;
  r.string(node, path, "module", t.module, true);
  if (!t.module.empty()) checkSchemaFile(r, path + ".module", t.module, base);
  if (const YAML::Node config = node["config"]) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    writeJson(config, w);
    t.config_json.assign(buf.GetString(), buf.GetSize());
  }
  const std::string limits = path + ".limits";
  if (r.optionalMap(node["limits"], limits, {"fuel", "time_ms", "memory_bytes"})) {
    r.integer(node["limits"], limits, "fuel", t.fuel, 0, 1LL << 62);
    r.millis(node["limits"], limits, "time_ms", t.time, 0, 3'600'000);
    r.integer(node["limits"], limits, "memory_bytes", t.memory_bytes, 1 << 16, 1LL << 32);
  }
  r.integer(node, path, "workers", t.workers, 0, 1024);
  out = std::move(t);
}

}  // namespace sluice::config_detail
