#include "config/file_checks.h"
#include "config/section_readers.h"

namespace sluice::config_detail {

void readValidation(Reader& r, const YAML::Node& node, ValidationConfig& v,
                    const std::filesystem::path& base) {
  const std::string path = "validation";
  if (!r.optionalMap(node, path, {"json", "max_bytes", "max_depth", "schema"})) return;
  r.boolean(node, path, "json", v.json);
  r.integer(node, path, "max_bytes", v.max_bytes, 1, 1LL << 30);
  r.integer(node, path, "max_depth", v.max_depth, 1, 10'000);
  r.string(node, path, "schema", v.schema, false);
  if (v.schema.empty()) v.schema = "none";
  if (v.schema != "default" && v.schema != "none") {
    if (!v.json) r.problem(path + ".schema", "needs validation.json: true");
    checkSchemaFile(r, path + ".schema", v.schema, base);
  }
}

}  // namespace sluice::config_detail
