#include "sdk/base/record_json.hpp"

#include <algorithm>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/json/error.hpp>
#include <boost/locale/utf.hpp>
#include <cmath>

#include "sdk/base/quote.hpp"

namespace weir::sdk {
namespace {

namespace json = boost::json;

json::parse_options record_options() {
  json::parse_options o;
  o.max_depth = record_max_depth;
  return o;
}

// Boost.JSON reads 1e999 as an infinity, which JSON cannot write back (it would become null):
// such a number is refused with where it is (looked for only when the parser saw one). `pointer`
// is built only on the way out of a failure.
bool finite(const json::value& v, std::string& pointer) {
  switch (v.kind()) {
    case json::kind::double_:
      return std::isfinite(v.get_double());
    case json::kind::array: {
      const auto& a = v.get_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!finite(a[i], pointer)) {
          pointer.insert(0, "/" + std::to_string(i));
          return false;
        }
      }
      return true;
    }
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (!finite(kv.value(), pointer)) {
          std::string token;
          for (char c : kv.key()) token += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
          pointer.insert(0, "/" + token);
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

}  // namespace

RecordParser::RecordParser() : parser_(record_options()), checker_(record_max_depth) {}

bool RecordParser::passes_as_line(std::string_view text) {
  return text.size() <= record_max_bytes && text.find_first_of("\r\n") == std::string_view::npos &&
         checker_.passes(text);
}

bool RecordParser::payload(std::string_view payload, bool as_text, json::value& out, std::string& reason) {
  if (!as_text) return parse(payload, out, reason);
  if (!valid_utf8(payload)) {
    reason = "not UTF-8 text";
    return false;
  }
  out = json::string(payload);
  return true;
}

bool RecordParser::parse(std::string_view text, json::value& out, std::string& reason, json::storage_ptr sp) {
  if (text.size() > record_max_bytes) {
    reason = "record of " + std::to_string(text.size()) + " bytes, more than the limit of " +
             std::to_string(record_max_bytes);
    return false;
  }
  boost::system::error_code ec;
  parser_.reset(std::move(sp));
  parser_.write(text, ec);
  if (ec) {
    reason = ec == json::error::too_deep
                 ? "invalid JSON: nesting deeper than " + std::to_string(record_max_depth) + " levels"
                 : "invalid JSON: " + ec.message();
    return false;
  }
  json::value v = parser_.release();
  std::string pointer;
  if (parser_.non_finite() && !finite(v, pointer)) {
    reason = "invalid JSON: number out of range of a double at " + quote(pointer.empty() ? "/" : pointer);
    return false;
  }
  out = std::move(v);
  return true;
}

bool valid_utf8(std::string_view s) {
  using utf = boost::locale::utf::utf_traits<char>;
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p != end) {
    if (static_cast<unsigned char>(*p) < 0x80) {
      ++p;
      continue;
    }
    const auto cp = utf::decode(p, end);
    if (cp == boost::locale::utf::illegal || cp == boost::locale::utf::incomplete) return false;
  }
  return true;
}

namespace {

std::string base64_of(std::string_view bytes) {
  namespace base64 = boost::beast::detail::base64;
  std::string encoded(base64::encoded_size(bytes.size()), '\0');
  encoded.resize(base64::encode(encoded.data(), bytes.data(), bytes.size()));
  return encoded;
}

// The bytes `s` takes as a JSON string's content (an upper bound: escaped controls take 6).
std::size_t escaped_size(std::string_view s) {
  std::size_t n = s.size();
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f)
      n += 5;
    else if (c == '"' || c == '\\')
      n += 1;
  }
  return n;
}

}  // namespace

json::value raw_record_value(std::string_view payload, std::string_view reason) {
  const bool text = valid_utf8(payload);
  if (payload.size() <= raw_keep_whole_bytes) {
    if (text && escaped_size(payload) <= raw_keep_whole_bytes) return json::string(payload);
    if (!text && payload.size() <= raw_keep_max_bytes)
      return json::object{{"raw_base64", base64_of(payload)}, {"reason", reason}};
  }
  std::size_t keep = std::min(payload.size(), raw_keep_max_bytes);
  json::object out;
  if (text) {
    // Back to the start of a character, so that the head is UTF-8 too.
    while (keep > 0 && keep < payload.size() && (static_cast<unsigned char>(payload[keep]) & 0xC0) == 0x80)
      --keep;
    out["raw_head"] = payload.substr(0, keep);
  } else {
    out["raw_base64"] = base64_of(payload.substr(0, keep));
  }
  out["raw_bytes"] = payload.size();
  out["reason"] = reason;
  return out;
}

}  // namespace weir::sdk
