// Batch request assembly (opt-in per sink): the body is a JSON array of the events, the two
// headers list each event's key and offset in body order.
//
// Input: optional "@OFFSET\n" (the first event's offset; the next ones count up from it), then
// the events separated by 0x1E (RS, as in RFC 7464); an event may start with "KEY" 0x1F, its
// raw idempotency key (default: its coordinates).
// Properties:
// - when every event passes the JSON validator (schema none), the body is one strict JSON array
//   (valid UTF-8, nothing after it) of as many elements as events, each the same JSON value as
//   its event (BOM left out);
// - the key and offset lists split back into the events' keys and offsets, in order;
// - their lengths are exactly what keyListGrowth/offsetListGrowth predicted: the dispatcher
//   bounds header lines with those.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "batch_body.h"  // tests/tools: how the recording sink splits batches
#include "config/config.h"
#include "delivery/batch_request.h"
#include "delivery/idempotency_key.h"
#include "fuzz_support.h"
#include "validate/validator.h"

namespace {

// A JSON text re-written canonically (same parse, same writer), to compare values without
// caring for whitespace or duplicate keys. nullopt if it does not parse.
std::optional<std::string> canonical(std::string_view json) {
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  rapidjson::Document doc;
  doc.Parse<kFlags>(json.data(), json.size());
  if (doc.HasParseError()) return std::nullopt;
  rapidjson::StringBuffer out;
  // 1e400 is valid JSON that parses to infinity, which a default writer refuses to write.
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                    rapidjson::CrtAllocator, rapidjson::kWriteNanAndInfFlag>
      writer(out);
  if (!doc.Accept(writer)) return std::nullopt;
  return std::string(out.GetString(), out.GetSize());
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sluice::Validator json_only([] {
    sluice::ValidationConfig c;
    c.schema = "none";
    return c;
  }());
  std::string_view input = sluice::fuzz::asText(data, size);
  std::uint64_t offset = 0;  // unsigned: counting up past INT64_MAX wraps, as defined
  if (input.starts_with('@')) {
    const std::size_t nl = input.find('\n');
    std::int64_t first = 0;
    const std::string_view digits = input.substr(1, nl == std::string_view::npos ? nl : nl - 1);
    std::from_chars(digits.data(), digits.data() + digits.size(), first);
    offset = static_cast<std::uint64_t>(first);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  }

  std::vector<std::string> keys;
  std::vector<sluice::BatchItem> items;
  const auto events = split(input, '\x1e');
  keys.reserve(events.size());
  bool all_valid = true;
  for (std::string_view event : events) {
    const auto item_offset = static_cast<std::int64_t>(offset++);
    const std::size_t us = event.find('\x1f');
    if (us != std::string_view::npos) {
      keys.push_back(sluice::toSfString(event.substr(0, us)));
      event.remove_prefix(us + 1);
    } else {
      keys.push_back(sluice::toSfString(sluice::coordinatesKey("events", 0, item_offset)));
    }
    items.push_back({event, keys.back(), item_offset});
    all_valid = all_valid && !json_only.check(event);
  }

  const sluice::BatchBody batch = sluice::assembleBatch(items);

  std::size_t key_bytes = 0;
  std::size_t offset_bytes = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    key_bytes += sluice::keyListGrowth(items[i].key.size(), i == 0);
    offset_bytes += sluice::offsetListGrowth(items[i].offset, i == 0);
  }
  SLUICE_FUZZ_CHECK(batch.keys.size() == key_bytes, batch.keys);
  SLUICE_FUZZ_CHECK(batch.offsets.size() == offset_bytes, batch.offsets);

  const auto key_list = sluice::tools::splitSfList(batch.keys);
  SLUICE_FUZZ_CHECK(key_list && key_list->size() == items.size(), batch.keys);
  const auto offset_list = sluice::tools::splitSfList(batch.offsets);
  SLUICE_FUZZ_CHECK(offset_list && offset_list->size() == items.size(), batch.offsets);
  for (std::size_t i = 0; i < items.size(); ++i) {
    SLUICE_FUZZ_CHECK((*key_list)[i] == items[i].key, batch.keys);
    SLUICE_FUZZ_CHECK((*offset_list)[i] == std::to_string(items[i].offset), batch.offsets);
  }

  if (!all_valid) return 0;
  const auto elements = sluice::fuzz::strictJsonArrayElements(batch.body);
  SLUICE_FUZZ_CHECK(elements.has_value(), batch.body);  // valid events, invalid batch
  SLUICE_FUZZ_CHECK(*elements == items.size(), batch.body);
  // Element by element: the same values, in order.
  const auto whole = canonical(batch.body);
  SLUICE_FUZZ_CHECK(whole.has_value(), batch.body);
  std::string expected = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string_view body = items[i].body;
    if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
    const auto one = canonical(body);
    SLUICE_FUZZ_CHECK(one.has_value(), body);  // the validator accepted it
    if (i > 0) expected.push_back(',');
    expected += *one;
  }
  expected.push_back(']');
  SLUICE_FUZZ_CHECK(*whole == expected, batch.body);
  return 0;
}
