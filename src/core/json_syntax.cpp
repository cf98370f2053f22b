// Turns "syntax error at byte N" into what an editor user needs: what was expected, what was
// found, and the pointer of the value being written. Boost.JSON 1.81 reports almost every
// problem as a bare `syntax`, so the context comes from re-reading the text up to the failure.
#include <cstdio>

#include "core/json_scan.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/diagnostic.hpp"

namespace weir::core::detail {
namespace {

enum class Expect { key_or_end, key, colon, value, value_or_end, comma_or_end, end };

struct Frame {
  bool object = false;
  std::string pointer;
  std::size_t index = 0;
  std::string key;
  Expect expect = Expect::value;
};

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_delim(char c) {
  return is_ws(c) || c == ',' || c == ']' || c == '}' || c == ':';
}

std::string child_pointer(const Frame& f) {
  return f.object ? sdk::pointer_append(f.pointer, f.key) : sdk::pointer_append(f.pointer, f.index);
}

std::string describe_found(std::string_view text, std::size_t offset) {
  if (offset >= text.size()) return "end of input";
  const auto c = static_cast<unsigned char>(text[offset]);
  if (c == '\n' || c == '\r') return "end of line";
  if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

const char* expectation(Expect e, bool object) {
  switch (e) {
    case Expect::key_or_end:
      return "a member name in double quotes or '}'";
    case Expect::key:
      return "a member name in double quotes";
    case Expect::colon:
      return "':' after the member name";
    case Expect::value:
      return "a value";
    case Expect::value_or_end:
      return "a value or ']'";
    case Expect::comma_or_end:
      return object ? "',' or '}'" : "',' or ']'";
    case Expect::end:
      return "the end of the document";
  }
  return "";
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 8259 number, or true/false/null.
bool valid_scalar(std::string_view t) {
  if (t == "true" || t == "false" || t == "null") return true;
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i >= t.size() || !is_digit(t[i])) return false;
  if (t[i] == '0')
    ++i;
  else
    while (i < t.size() && is_digit(t[i])) ++i;
  if (i < t.size() && t[i] == '.') {
    if (++i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    if (++i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  return i == t.size();
}

// Whether text[offset] is inside an escape sequence: right after a backslash or in a \uXXXX.
bool in_escape(std::string_view text, std::size_t offset) {
  for (std::size_t k = 1; k <= 5 && k <= offset; ++k)
    if (text[offset - k] == '\\') return k == 1 || text[offset - k + 1] == 'u';
  return false;
}

}  // namespace

SyntaxProblem describe_syntax_error(std::string_view text, std::size_t start, std::size_t offset,
                                    bool incomplete, bool extra) {
  std::vector<Frame> stack{Frame{}};  // the bottom frame stands for the document itself
  std::size_t pos = start;
  std::size_t last_comma = std::string_view::npos;  // of the last significant character
  bool in_string = false;
  std::size_t token_start = std::string_view::npos;

  auto after_value = [&stack] {
    stack.back().expect = stack.size() == 1 ? Expect::end : Expect::comma_or_end;
  };
  while (pos < offset) {
    const char c = text[pos];
    if (is_ws(c)) {
      ++pos;
      continue;
    }
    last_comma = c == ',' ? pos : std::string_view::npos;
    Frame& f = stack.back();
    if (c == '"') {
      std::size_t end = pos;
      std::string s = decode_string(text, end);
      if (end > offset || text[end - 1] != '"' || end - pos < 2) {
        in_string = true;
        break;
      }
      pos = end;
      if (f.expect == Expect::key || f.expect == Expect::key_or_end) {
        f.key = std::move(s);
        f.expect = Expect::colon;
      } else {
        after_value();
      }
    } else if (c == '{' || c == '[') {
      const std::string p = stack.size() == 1 ? std::string{} : child_pointer(f);
      stack.push_back(Frame{c == '{', p, 0, {}, c == '{' ? Expect::key_or_end : Expect::value_or_end});
      ++pos;
    } else if (c == '}' || c == ']') {
      if (stack.size() > 1) stack.pop_back();
      after_value();
      ++pos;
    } else if (c == ':') {
      f.expect = Expect::value;
      ++pos;
    } else if (c == ',') {
      if (f.object) {
        f.expect = Expect::key;
      } else {
        ++f.index;
        f.expect = Expect::value;
      }
      ++pos;
    } else {
      std::size_t end = pos;
      while (end < text.size() && !is_delim(text[end])) ++end;
      // Boost stops at the delimiter after a malformed number ("-]"), so a token that ends
      // exactly at the failure is the culprit only when it is not a valid scalar itself.
      if (end > offset || (end == offset && !valid_scalar(text.substr(pos, end - pos)))) {
        token_start = pos;
        break;
      }
      pos = end;
      after_value();
    }
  }

  const Frame& f = stack.back();
  const bool at_value = f.expect == Expect::value || f.expect == Expect::value_or_end;
  SyntaxProblem p;
  p.offset = offset;
  p.pointer = stack.size() > 1 && at_value ? child_pointer(f) : f.pointer;
  const std::string found = describe_found(text, offset);

  if (in_string) {
    const auto c = offset < text.size() ? static_cast<unsigned char>(text[offset]) : 0;
    if (incomplete) {
      p.message = "unterminated string";
      p.hint = "add the closing '\"'";
    } else if (c == '\n' || c == '\r') {
      p.message = "string not closed before the end of the line";
      p.hint = "close it with '\"' or write a line break as \\n";
    } else if (c < 0x20) {
      p.message = "unescaped control character in a string";
      p.hint = "write it as \\t, \\n or \\u00XX";
    } else if (in_escape(text, offset)) {
      p.message = "invalid escape sequence in a string";
      p.hint = "valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX";
    } else {
      p.message = "invalid UTF-8 or unpaired surrogate in a string";
    }
    return p;
  }
  if (incomplete) {
    p.message = std::string("unexpected end of input, expected ") + expectation(f.expect, f.object);
    if (stack.size() > 1) p.hint = std::string("a closing '") + (f.object ? '}' : ']') + "' may be missing";
    return p;
  }
  if (extra) {
    p.message = "unexpected " + found + " after the end of the JSON document";
    p.hint = "a file holds exactly one JSON value";
    return p;
  }
  const char c = offset < text.size() ? text[offset] : '\0';
  if (token_start != std::string_view::npos ||
      (at_value && !is_delim(c) && c != '{' && c != '[' && c != '"' && c != '/' && c != '#' && c != '\'')) {
    const std::size_t from = token_start != std::string_view::npos ? token_start : offset;
    std::size_t end = from;
    while (end < text.size() && !is_delim(text[end]) && end - from < 40) ++end;
    p.offset = from;
    p.message = "invalid value " + sdk::quote(text.substr(from, end - from));
    p.hint = "expected a number, a string in double quotes, true, false, null, an object or an array";
    return p;
  }
  if (c == '/' || c == '#') {
    p.message = "comments are not allowed in JSON";
    return p;
  }
  if ((c == '}' || c == ']') && last_comma != std::string_view::npos) {
    p.offset = last_comma;
    p.message = std::string("trailing comma before '") + c + "'";
    p.hint = "remove the last ','";
    return p;
  }
  p.message = std::string("expected ") + expectation(f.expect, f.object) + ", found " + found;
  if (c == '\'') p.hint = "JSON strings and member names use double quotes";
  return p;
}

}  // namespace weir::core::detail
