#include "validate/validator.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "validate/bounded_json.h"
#include "validate/default_schema.h"  // generated from proto/event.schema.json

namespace sluice {

struct Validator::Schema {
  explicit Schema(const rapidjson::Document& doc) : document(doc) {}
  rapidjson::SchemaDocument document;
};

// rapidjson's defaults malloc a 64 KiB pool chunk and a parse stack for every document, and
// more for every schema validation; on the hot path that showed up as malloc/free and page
// clearing in profiles. Pools over fixed buffers, cleared after each event, avoid it for any
// event that fits (larger ones spill into malloc'd chunks, freed by the same Clear()).
struct Validator::Scratch {
  using Pool = rapidjson::MemoryPoolAllocator<>;
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, Pool>;
  using SchemaValidator =
      rapidjson::GenericSchemaValidator<rapidjson::SchemaDocument,
                                        rapidjson::BaseReaderHandler<rapidjson::UTF8<>, void>, Pool>;
  static constexpr std::size_t kChunk = 16 * 1024;
  alignas(16) char value_buffer[64 * 1024];
  alignas(16) char stack_buffer[16 * 1024];
  alignas(16) char state_buffer[16 * 1024];
  Pool values{value_buffer, sizeof value_buffer, kChunk};
  Pool stack{stack_buffer, sizeof stack_buffer, kChunk};
  Pool state{state_buffer, sizeof state_buffer, kChunk};
  void clear() {
    values.Clear();
    stack.Clear();
    state.Clear();
  }
};

std::string_view defaultEventSchema() { return kDefaultEventSchema; }

Validator::Validator(const ValidationConfig& config)
    : config_(config), scratch_(std::make_unique<Scratch>()) {
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
  std::optional<Invalid> verdict = checkJson(body);
  scratch_->clear();
  return verdict;
}

namespace {

// The verdict of a parse that the handler did not stop: a schema violation is the caller's to
// describe.
std::optional<Invalid> syntaxVerdict(const BoundedJsonResult& parsed, unsigned max_depth) {
  using Status = BoundedJsonResult::Status;
  std::string where = "byte " + std::to_string(parsed.offset);
  switch (parsed.status) {
    case Status::kOk:
      return std::nullopt;
    case Status::kTooDeep:
      return Invalid{"invalid_json",
                     "nested deeper than validation.max_depth " + std::to_string(max_depth),
                     std::move(where)};
    case Status::kTrailing:
      return Invalid{"invalid_json", "more than one JSON value, or bytes after it",
                     std::move(where)};
    case Status::kSyntax:
    case Status::kStoppedByHandler:
      break;
  }
  return Invalid{"invalid_json", rapidjson::GetParseError_En(parsed.code), std::move(where)};
}

}  // namespace

std::optional<Invalid> Validator::checkJson(std::string_view body) const {
  Scratch& s = *scratch_;
  // SAX straight into the schema validator (or into nothing): no DOM is built, and the
  // parser's stack comes from the per-event pool.
  if (!schema_) {
    rapidjson::BaseReaderHandler<> syntax_only;
    return syntaxVerdict(parseBoundedJson(body, syntax_only, config_.max_depth, &s.stack),
                         config_.max_depth);
  }
  Scratch::SchemaValidator validator(schema_->document, &s.state);
  const BoundedJsonResult parsed = parseBoundedJson(body, validator, config_.max_depth, &s.stack);
  if (parsed.status != BoundedJsonResult::Status::kStoppedByHandler || validator.IsValid()) {
    return syntaxVerdict(parsed, config_.max_depth);
  }
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
