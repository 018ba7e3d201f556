// Idempotency-Key derivation: the key must be the same on every redelivery and distinct
// records must not share one, so the sf-string encoding has to be injective and stay printable
// ASCII whatever a record supplies.
//
// Input, one field per line, then the body (readable seeds; see corpus/idempotency_key):
//   source      c (coordinates), j (json_pointer) or h (header): the first byte decides
//   selector    the JSON pointer (j) or the header name (h)
//   header      the header's value; a line starting with '~' means the record lacks it
//   topic
//   partition   decimal; anything else is 0
//   offset      decimal; anything else is 0
//   body...     the rest, newlines included
// Properties:
// - toSfString of any bytes is an sf-string of printable ASCII that decodes back to them;
// - deriveIdempotencyKey gives such a string; the supplied key when there is one of at most
//   kMaxSuppliedKeyBytes, otherwise the coordinates (and says it fell back); its length is
//   bounded by what it encodes;
// - jsonPointerKey agrees with the derivation it feeds.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"
#include "delivery/idempotency_key.h"
#include "fuzz_support.h"

namespace {

using sluice::fuzz::decodeSfString;

std::string_view nextLine(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

template <class Int>
Int number(std::string_view s) {
  Int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() ? v : 0;
}

void checkSfString(const std::string& sf, std::string_view raw) {
  const auto decoded = decodeSfString(sf);
  SLUICE_FUZZ_CHECK(decoded.has_value(), sf);  // not an sf-string, or not sluice's encoding
  SLUICE_FUZZ_CHECK(*decoded == raw, sf);      // two raw keys could share this key
  SLUICE_FUZZ_CHECK(sf.size() <= 2 + 3 * raw.size(), sf);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest = sluice::fuzz::asText(data, size);
  // Every byte string is a raw key somewhere (a header value, a JSON string).
  checkSfString(sluice::toSfString(rest), rest);

  const std::string_view source = nextLine(rest);
  const std::string selector(nextLine(rest));
  const std::string_view header_line = nextLine(rest);
  const std::string_view topic = nextLine(rest);
  const auto partition = number<std::int32_t>(nextLine(rest));
  const auto offset = number<std::int64_t>(nextLine(rest));
  const std::string_view body = rest;
  std::optional<std::string_view> header;
  if (!header_line.starts_with('~')) header = header_line;

  sluice::IdempotencyConfig config;
  const char kind = source.empty() ? 'c' : source.front();
  config.source = kind == 'j'   ? sluice::KeySource::kJsonPointer
                  : kind == 'h' ? sluice::KeySource::kHeader
                                : sluice::KeySource::kCoordinates;
  config.json_pointer = selector;
  config.header = selector;

  const auto derived =
      sluice::deriveIdempotencyKey(config, body, header, topic, partition, offset);
  const std::string coordinates = sluice::coordinatesKey(topic, partition, offset);
  std::optional<std::string> supplied;
  if (config.source == sluice::KeySource::kJsonPointer) {
    supplied = sluice::jsonPointerKey(body, selector);
  } else if (config.source == sluice::KeySource::kHeader && header) {
    supplied = std::string(*header);
  }
  const bool usable = supplied && supplied->size() <= sluice::kMaxSuppliedKeyBytes;
  SLUICE_FUZZ_CHECK(derived.fell_back == (config.source != sluice::KeySource::kCoordinates && !usable),
                    derived.key);
  checkSfString(derived.key, usable ? std::string_view(*supplied) : std::string_view(coordinates));
  // Bounded: a header line never grows with the record beyond the supplied-key limit.
  SLUICE_FUZZ_CHECK(derived.key.size() <= 2 + 3 * std::max(sluice::kMaxSuppliedKeyBytes,
                                                            coordinates.size()),
                    derived.key);
  // The same record, derived again, gets the same key.
  SLUICE_FUZZ_CHECK(
      sluice::deriveIdempotencyKey(config, body, header, topic, partition, offset).key ==
          derived.key,
      derived.key);
  return 0;
}
