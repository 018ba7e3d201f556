#include "batch_body.h"

namespace sluice::tools {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::vector<std::string_view>> splitJsonArray(std::string_view body) {
  body = trim(body);
  if (body.size() < 2 || body.front() != '[' || body.back() != ']') return std::nullopt;
  std::vector<std::string_view> out;
  int depth = 0;
  bool in_string = false;
  std::size_t start = 1;
  for (std::size_t i = 1; i + 1 < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth < 0) return std::nullopt;
    } else if (c == ',' && depth == 0) {
      // Not trimmed: sluice joins the values with a bare ',', so an element is exactly the
      // event's body, whitespace included.
      const auto element = body.substr(start, i - start);
      if (trim(element).empty()) return std::nullopt;
      out.push_back(element);
      start = i + 1;
    }
  }
  if (in_string || depth != 0) return std::nullopt;
  const auto last = body.substr(start, body.size() - 1 - start);
  if (trim(last).empty()) {
    if (!out.empty()) return std::nullopt;  // a trailing comma
    return out;                            // []
  }
  out.push_back(last);
  return out;
}

std::optional<std::vector<std::string_view>> splitSfList(std::string_view list) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (true) {
    while (i < list.size() && (list[i] == ' ' || list[i] == '\t')) ++i;
    const std::size_t start = i;
    if (i < list.size() && list[i] == '"') {
      for (++i; i < list.size() && list[i] != '"'; ++i) {
        if (list[i] == '\\') ++i;
      }
      if (i >= list.size()) return std::nullopt;
      ++i;  // the closing quote
    } else {
      while (i < list.size() && list[i] != ',' && list[i] != ' ' && list[i] != '\t') ++i;
    }
    if (i == start) return std::nullopt;
    out.push_back(list.substr(start, i - start));
    while (i < list.size() && (list[i] == ' ' || list[i] == '\t')) ++i;
    if (i == list.size()) return out;
    if (list[i] != ',') return std::nullopt;
    ++i;
  }
}

}  // namespace sluice::tools
