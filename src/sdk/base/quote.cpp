#include "sdk/base/quote.hpp"

#include <algorithm>
#include <boost/locale/utf.hpp>
#include <cstdint>

namespace weir::sdk {
namespace {

using utf = boost::locale::utf::utf_traits<char>;

constexpr char hex[] = "0123456789abcdef";

// One character of `s` at `p`: its code point, or illegal for a byte that starts no UTF-8
// sequence (then `p` moves by one byte only).
std::uint32_t next(const char*& p, const char* end) {
  const char* start = p;
  const auto cp = utf::decode(p, end);
  if (cp == boost::locale::utf::illegal || cp == boost::locale::utf::incomplete) {
    p = start + 1;
    return boost::locale::utf::illegal;
  }
  return cp;
}

bool is_special(std::uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 || cp == boost::locale::utf::illegal;
}

// The escapes a reader knows by name; the other controls are written as \uXXXX.
const char* named_escape(std::uint32_t cp) {
  switch (cp) {
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return nullptr;
  }
}

void put_u(std::string& out, std::uint32_t cp) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += hex[(cp >> shift) & 0xF];
}

}  // namespace

std::size_t append_escaped(std::string& out, std::string_view s, std::size_t max_chars, bool escape_quotes) {
  const char* p = s.data();
  const char* const end = s.data() + s.size();
  std::size_t chars = 0;
  while (p != end && chars < max_chars) {
    ++chars;
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c < 0x7F) {  // ASCII, the common case
      if (escape_quotes && (c == '"' || c == '\\')) out += '\\';
      out += *p++;
      continue;
    }
    const char* start = p;
    const auto cp = next(p, end);
    if (!is_special(cp)) {
      out.append(start, static_cast<std::size_t>(p - start));
    } else if (cp == boost::locale::utf::illegal) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else if (const char* named = named_escape(cp)) {
      out += named;
    } else {
      put_u(out, cp);
    }
  }
  return static_cast<std::size_t>(p - s.data());
}

bool needs_escaping(std::string_view s) {
  const char* p = s.data();
  const char* const end = s.data() + s.size();
  while (p != end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c < 0x7F) {
      ++p;
      continue;
    }
    if (is_special(next(p, end))) return true;
  }
  return false;
}

std::string escape_controls(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_escaped(out, s);
  return out;
}

std::string quote(std::string_view s, std::size_t max_chars) {
  std::string out;
  out.reserve(std::min(s.size(), max_chars) + 2);
  out += '"';
  const bool cut = append_escaped(out, s, max_chars, true) < s.size();
  if (cut) out += "\xE2\x80\xA6";  // …
  out += '"';
  if (cut) out += " (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace weir::sdk
