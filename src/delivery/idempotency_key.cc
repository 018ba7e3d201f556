#include "delivery/idempotency_key.h"

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "validate/bounded_json.h"

namespace sluice {

std::string toSfString(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size() + 2);
  out.push_back('"');
  for (const char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '"' || u == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u > 0x7e || u == '%') {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0f]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string coordinatesKey(std::string_view topic, std::int32_t partition, std::int64_t offset) {
  std::string key;
  key.reserve(topic.size() + 24);
  key.append(topic);
  key.push_back('/');
  key.append(std::to_string(partition));
  key.push_back('/');
  key.append(std::to_string(offset));
  return key;
}

namespace {

// Deep enough for any event a validator with the highest max_depth passes; bounded so that a
// hostile record cannot make the DOM huge.
constexpr unsigned kMaxKeyDocumentDepth = 10'000;

}  // namespace

std::optional<std::string> jsonPointerKey(std::string_view document, const std::string& pointer) {
  rapidjson::Document doc;
  bool parsed = false;
  // Populate hands the document's own SAX handler to the bounded parser and adopts the root.
  auto generate = [&](rapidjson::Document& handler) {
    parsed = parseBoundedJson(document, handler, kMaxKeyDocumentDepth).ok();
    return parsed;
  };
  doc.Populate(generate);
  if (!parsed) return std::nullopt;
  const rapidjson::Pointer ptr(pointer.c_str(), pointer.size());
  if (!ptr.IsValid()) return std::nullopt;
  const rapidjson::Value* v = ptr.Get(doc);
  if (v == nullptr) return std::nullopt;
  if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
  if (v->IsNumber()) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v->Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
  }
  return std::nullopt;
}

KeyDerivation deriveIdempotencyKey(const IdempotencyConfig& config, std::string_view body,
                                   std::optional<std::string_view> header_value,
                                   std::string_view topic, std::int32_t partition,
                                   std::int64_t offset) {
  std::optional<std::string> supplied;
  switch (config.source) {
    case KeySource::kCoordinates:
      return {toSfString(coordinatesKey(topic, partition, offset)), false};
    case KeySource::kJsonPointer:
      supplied = jsonPointerKey(body, config.json_pointer);
      break;
    case KeySource::kHeader:
      if (header_value) supplied = std::string(*header_value);
      break;
  }
  if (supplied && supplied->size() <= kMaxSuppliedKeyBytes) return {toSfString(*supplied), false};
  // Missing or too long: the coordinates are just as stable across redeliveries.
  return {toSfString(coordinatesKey(topic, partition, offset)), true};
}

}  // namespace sluice
