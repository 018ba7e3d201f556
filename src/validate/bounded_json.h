#pragma once

// The one way sluice reads an event as JSON. A Kafka record is hostile input, and a crash on
// one record is a crash on every group member that reads it next, so every walk over an event
// goes through here:
// - the parser is RapidJSON's iterative one (no recursion per nesting level), and a depth limit
//   bounds what the handler (a DOM, a schema validator) keeps per level;
// - strings must be valid UTF-8;
// - the document must fill the whole record: RapidJSON's memory stream reads a NUL byte as the
//   end of input, so `{"a":1}\0x` would otherwise pass, and then break a batch's JSON array.
#include <rapidjson/error/error.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

// A leading UTF-8 byte-order mark: RFC 8259 §8.1 lets parsers ignore it; sluice accepts it
// and leaves it out wherever it composes JSON (batches).
inline std::string_view withoutBom(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  return text;
}

struct BoundedJsonResult {
  enum class Status { kOk, kSyntax, kTooDeep, kTrailing, kStoppedByHandler };
  Status status = Status::kOk;
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  std::size_t offset = 0;  // byte offset into the text given (a BOM counts)
  bool ok() const { return status == Status::kOk; }
};

// Forwards SAX events to `Handler`, refusing to open a container deeper than `max_depth`.
template <class Handler>
class DepthLimitedHandler {
 public:
  DepthLimitedHandler(Handler& inner, unsigned max_depth) : inner_(inner), max_depth_(max_depth) {}
  bool Null() { return inner_.Null(); }
  bool Bool(bool b) { return inner_.Bool(b); }
  bool Int(int i) { return inner_.Int(i); }
  bool Uint(unsigned u) { return inner_.Uint(u); }
  bool Int64(std::int64_t i) { return inner_.Int64(i); }
  bool Uint64(std::uint64_t u) { return inner_.Uint64(u); }
  bool Double(double d) { return inner_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return inner_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return inner_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return inner_.Key(s, n, copy); }
  bool StartObject() { return open() && inner_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return inner_.EndObject(members);
  }
  bool StartArray() { return open() && inner_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return inner_.EndArray(elements);
  }
  bool tooDeep() const { return too_deep_; }

 private:
  bool open() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }
  Handler& inner_;
  unsigned max_depth_;
  unsigned depth_ = 0;
  bool too_deep_ = false;
};

// Parses `text` (a BOM allowed) into `handler` under the rules above. `stack` is the parser's
// own stack allocator (nullptr: RapidJSON's default, one malloc per call).
template <class Handler, class StackAllocator = rapidjson::CrtAllocator>
BoundedJsonResult parseBoundedJson(std::string_view text, Handler& handler, unsigned max_depth,
                                   StackAllocator* stack = nullptr) {
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseStopWhenDoneFlag;
  const std::string_view json = withoutBom(text);
  const std::size_t skipped = text.size() - json.size();
  rapidjson::MemoryStream stream(json.data(), json.size());
  DepthLimitedHandler<Handler> limited(handler, max_depth);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, StackAllocator> reader(stack, 256);
  const rapidjson::ParseResult parsed = reader.template Parse<kFlags>(stream, limited);
  BoundedJsonResult result;
  if (parsed.IsError()) {
    result.code = parsed.Code();
    result.offset = skipped + parsed.Offset();
    result.status = limited.tooDeep() ? BoundedJsonResult::Status::kTooDeep
                    : parsed.Code() == rapidjson::kParseErrorTermination
                        ? BoundedJsonResult::Status::kStoppedByHandler
                        : BoundedJsonResult::Status::kSyntax;
    return result;
  }
  // Only JSON whitespace may follow the root (RFC 8259 §2); a NUL may not.
  for (std::size_t i = stream.Tell(); i < json.size(); ++i) {
    const char c = json[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      result.status = BoundedJsonResult::Status::kTrailing;
      result.code = rapidjson::kParseErrorDocumentRootNotSingular;
      result.offset = skipped + i;
      return result;
    }
  }
  return result;
}

}  // namespace sluice
