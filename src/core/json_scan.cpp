#include "core/json_scan.hpp"
#include "sdk/base/utf8.hpp"

#include <cmath>
#include <cstdlib>
#include <set>

#include "sdk/base/quote.hpp"
#include "sdk/diagnostic.hpp"

namespace weir::core::detail {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the 4 hex digits of a \u escape at text[pos] (pointing at the backslash).
bool read_u16(std::string_view text, std::size_t pos, unsigned& out) {
  if (pos + 6 > text.size() || text[pos] != '\\' || text[pos + 1] != 'u') return false;
  out = 0;
  for (std::size_t i = pos + 2; i < pos + 6; ++i) {
    const int h = hex_value(text[i]);
    if (h < 0) return false;
    out = out * 16 + static_cast<unsigned>(h);
  }
  return true;
}

// One escape sequence at text[pos] (the backslash): its raw length and decoded code point.
struct Escape {
  std::size_t raw_len;
  unsigned cp;
};
Escape read_escape(std::string_view text, std::size_t pos) {
  if (pos + 1 >= text.size()) return {1, 0xFFFD};
  switch (text[pos + 1]) {
    case 'b':
      return {2, '\b'};
    case 'f':
      return {2, '\f'};
    case 'n':
      return {2, '\n'};
    case 'r':
      return {2, '\r'};
    case 't':
      return {2, '\t'};
    case 'u': {
      unsigned hi = 0;
      if (!read_u16(text, pos, hi)) return {2, 0xFFFD};
      unsigned lo = 0;
      if (hi >= 0xD800 && hi < 0xDC00 && read_u16(text, pos + 6, lo) && lo >= 0xDC00 && lo < 0xE000)
        return {12, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)};
      return {6, hi};
    }
    default:
      return {2, static_cast<unsigned char>(text[pos + 1])};  // \" \\ \/
  }
}

std::size_t utf8_len(unsigned cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

std::size_t utf8_seq_len(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

class Scanner {
 public:
  Scanner(std::string_view text, EntryMap& entries, std::vector<ScanIssue>& issues)
      : text_(text), entries_(entries), issues_(issues) {}

  void value(const std::string& pointer, std::size_t key_offset) {
    skip_ws();
    entries_[pointer] = ScanEntry{pos_, key_offset};
    if (pos_ >= text_.size()) return;
    switch (text_[pos_]) {
      case '{':
        object(pointer);
        break;
      case '[':
        array(pointer);
        break;
      case '"':
        decode_string(text_, pos_);
        break;
      default:
        scalar(pointer);
    }
  }

  void skip_ws() {
    while (pos_ < text_.size() && is_ws(text_[pos_])) ++pos_;
  }
  std::size_t pos_ = 0;

 private:
  void object(const std::string& pointer) {
    ++pos_;
    std::set<std::string, std::less<>> seen;
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return;
    }
    while (pos_ < text_.size()) {
      skip_ws();
      const std::size_t key_offset = pos_;
      std::string key = decode_string(text_, pos_);
      skip_ws();
      ++pos_;  // ':'
      std::string child = sdk::pointer_append(pointer, key);
      if (!seen.insert(key).second) {
        issues_.push_back({"duplicate_key", child, "duplicate member " + sdk::quote(key),
                           "only the last one is used; remove or rename the others", key_offset});
        // Boost keeps the last member: forget what the earlier one held.
        const std::string prefix = child + "/";
        auto it = entries_.lower_bound(prefix);
        while (it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0)
          it = entries_.erase(it);
      }
      value(child, key_offset);
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      ++pos_;  // '}'
      return;
    }
  }

  void array(const std::string& pointer) {
    ++pos_;
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return;
    }
    for (std::size_t index = 0; pos_ < text_.size(); ++index) {
      value(sdk::pointer_append(pointer, index), no_key);
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      ++pos_;  // ']'
      return;
    }
  }

  void scalar(const std::string& pointer) {
    const std::size_t start = pos_;
    bool exponent = false;
    while (pos_ < text_.size() && !is_ws(text_[pos_]) && text_[pos_] != ',' && text_[pos_] != ']' &&
           text_[pos_] != '}') {
      exponent = exponent || text_[pos_] == 'e' || text_[pos_] == 'E';
      ++pos_;
    }
    // Only numbers with an exponent or very many digits can exceed a double's range.
    const char first = text_[start];
    if (!(first == '-' || (first >= '0' && first <= '9'))) return;
    if (!exponent && pos_ - start < 300) return;
    const std::string token(text_.substr(start, pos_ - start));
    if (std::isinf(std::strtod(token.c_str(), nullptr)))
      issues_.push_back({"out_of_range", pointer,
                         "number " + (token.size() > 40 ? token.substr(0, 37) + "..." : token) +
                             " is too large to represent",
                         "the largest allowed magnitude is about 1.8e308", start});
  }

  std::string_view text_;
  EntryMap& entries_;
  std::vector<ScanIssue>& issues_;
};

}  // namespace

void scan_json(std::string_view text, std::size_t start, EntryMap& entries, std::vector<ScanIssue>& issues) {
  Scanner s(text, entries, issues);
  s.pos_ = start;
  s.value("", no_key);
}

std::string decode_string(std::string_view text, std::size_t& pos) {
  std::string out;
  ++pos;  // opening quote
  while (pos < text.size() && text[pos] != '"') {
    if (text[pos] != '\\') {
      const std::size_t run = pos;
      while (pos < text.size() && text[pos] != '"' && text[pos] != '\\') ++pos;
      out.append(text.substr(run, pos - run));
      continue;
    }
    const Escape e = read_escape(text, pos);
    sdk::append_utf8(out, e.cp);
    pos += e.raw_len;
  }
  if (pos < text.size()) ++pos;  // closing quote
  return out;
}

std::size_t string_columns(std::string_view text, std::size_t quote, std::size_t offset) {
  std::size_t pos = quote + 1;
  std::size_t decoded = 0;
  std::size_t columns = 0;
  while (pos < text.size() && text[pos] != '"' && decoded < offset) {
    if (text[pos] == '\\') {
      const Escape e = read_escape(text, pos);
      decoded += utf8_len(e.cp);
      columns += e.raw_len;  // escapes are ASCII: one column per byte
      pos += e.raw_len;
    } else {
      const std::size_t n = utf8_seq_len(static_cast<unsigned char>(text[pos]));
      decoded += n;
      columns += 1;
      pos += n;
    }
  }
  return columns;
}

std::size_t count_chars(std::string_view text, std::size_t from, std::size_t to) {
  std::size_t n = 0;
  for (std::size_t i = from; i < to && i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace weir::core::detail
