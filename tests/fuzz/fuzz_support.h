#pragma once

// Oracles shared by the fuzz targets. They are written independently of the code under test
// (own RapidJSON flags, own UTF-8 and sf-string decoders), so a bug there cannot hide itself.
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::fuzz {

// A property does not hold: report it and abort, so libFuzzer saves the input.
[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "\n*** fuzz property violated: %s\n", what);
  if (!detail.empty()) {
    std::fprintf(stderr, "*** detail (%zu bytes): ", detail.size());
    for (const char ch : detail.substr(0, 400)) {
      const auto c = static_cast<unsigned char>(ch);
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        std::fputc(c, stderr);
      } else {
        std::fprintf(stderr, "\\x%02x", c);
      }
    }
    std::fputc('\n', stderr);
  }
  std::abort();
}

#define SLUICE_FUZZ_CHECK(cond, detail)                                     \
  do {                                                                      \
    if (!(cond)) ::sluice::fuzz::fail(#cond " (" __FILE__ ")", (detail)); \
  } while (0)

inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
inline bool validUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
    }
    i += n + 1;
  }
  return true;
}

// Counts the elements of a root array; refuses any other root.
struct ArrayCounter : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ArrayCounter> {
  int depth = 0;
  std::size_t elements = 0;
  bool root_is_array = false;
  bool value() {
    if (depth == 0) return false;  // a scalar root
    if (depth == 1) ++elements;
    return true;
  }
  bool Default() { return value(); }
  bool StartObject() {
    if (!value()) return false;
    ++depth;
    return true;
  }
  bool Key(const char*, rapidjson::SizeType, bool) { return true; }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool StartArray() {
    if (depth == 0) {
      root_is_array = true;
    } else if (depth == 1) {
      ++elements;
    }
    ++depth;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

// The number of elements when `text` is exactly one JSON array (RFC 8259: valid UTF-8 in
// strings, only whitespace after it, over its whole length, NUL bytes included); nullopt
// otherwise. Iterative, so depth is no concern here.
inline std::optional<std::size_t> strictJsonArrayElements(std::string_view text) {
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseStopWhenDoneFlag;
  rapidjson::MemoryStream stream(text.data(), text.size());
  ArrayCounter counter;
  rapidjson::Reader reader;
  if (reader.Parse<kFlags>(stream, counter).IsError() || !counter.root_is_array) {
    return std::nullopt;
  }
  for (std::size_t i = stream.Tell(); i < text.size(); ++i) {
    const char c = text[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return std::nullopt;
  }
  // The bytes outside strings are ASCII structure; inside them RapidJSON checked UTF-8, but
  // a second, independent look costs little.
  if (!validUtf8(text)) return std::nullopt;
  return counter.elements;
}

// Decodes an RFC 8941 sf-string ("..." with \" and \\ the only escapes, printable ASCII
// only) and then sluice's percent-encoding of other bytes (%XX, upper-case hex; '%' itself
// is always encoded). nullopt when `s` is not exactly that.
inline std::optional<std::string> decodeSfString(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
  std::string unescaped;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c > 0x7e) return std::nullopt;
    if (c == '"') return std::nullopt;  // an unescaped quote ends the string early
    if (c == '\\') {
      if (i + 2 >= s.size()) return std::nullopt;  // escapes the closing quote
      const char next = s[++i];
      if (next != '"' && next != '\\') return std::nullopt;
      unescaped.push_back(next);
      continue;
    }
    unescaped.push_back(static_cast<char>(c));
  }
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;  // lower case is not what sluice writes: distinct spellings would alias
  };
  std::string raw;
  for (std::size_t i = 0; i < unescaped.size(); ++i) {
    if (unescaped[i] != '%') {
      raw.push_back(unescaped[i]);
      continue;
    }
    if (unescaped.size() - i <= 2) return std::nullopt;  // truncated %XX
    const int h = hex(unescaped[i + 1]);
    const int l = hex(unescaped[i + 2]);
    if (h < 0 || l < 0) return std::nullopt;
    const auto byte = static_cast<unsigned char>(h * 16 + l);
    // Printable bytes other than '%' are never encoded: one spelling per key.
    if (byte >= 0x20 && byte <= 0x7e && byte != '%') return std::nullopt;
    raw.push_back(static_cast<char>(byte));
    i += 2;
  }
  return raw;
}

}  // namespace sluice::fuzz
