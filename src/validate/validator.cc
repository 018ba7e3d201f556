#include "validate/validator.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "validate/default_schema.h"  // generated from proto/event.schema.json

namespace sluice {

struct Validator::Schema {
  explicit Schema(const rapidjson::Document& doc) : document(doc) {}
  rapidjson::SchemaDocument document;
};

std::string_view defaultEventSchema() { return kDefaultEventSchema; }

Validator::Validator(const ValidationConfig& config) : config_(config) {
  if (config.schema == "none") return;
  std::string text;
  if (config.schema == "default") {
    text = std::string(defaultEventSchema());
  } else {
    std::ifstream in(config.schema);
    if (!in) throw std::runtime_error("validation.schema: cannot read " + config.schema);
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    throw std::runtime_error("validation.schema " + config.schema + ": not JSON at byte " +
                             std::to_string(doc.GetErrorOffset()) + ": " +
                             rapidjson::GetParseError_En(doc.GetParseError()));
  }
  schema_ = std::make_unique<Schema>(doc);
}

Validator::~Validator() = default;

std::optional<Invalid> Validator::check(std::string_view body) const {
  if (body.size() > config_.max_bytes) {
    return Invalid{"too_large",
                   std::to_string(body.size()) + " bytes, over validation.max_bytes " +
                       std::to_string(config_.max_bytes),
                   ""};
  }
  if (!config_.json) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) {
    return Invalid{"invalid_json", rapidjson::GetParseError_En(doc.GetParseError()),
                   "byte " + std::to_string(doc.GetErrorOffset())};
  }
  if (!schema_) return std::nullopt;
  rapidjson::SchemaValidator validator(schema_->document);
  if (doc.Accept(validator)) return std::nullopt;
  rapidjson::StringBuffer where;
  validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
  rapidjson::StringBuffer rule;
  validator.GetInvalidSchemaPointer().StringifyUriFragment(rule);
  return Invalid{"schema_mismatch",
                 std::string("violates \"") + validator.GetInvalidSchemaKeyword() +
                     "\" at schema " + rule.GetString(),
                 where.GetString()};
}

}  // namespace sluice
