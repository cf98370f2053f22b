#include "flowtest/runner.hpp"

#include <cstdio>

namespace weir::flowtest {

namespace {

// The length of the valid UTF-8 sequence XML 1.0 can hold at s[i] (a lead byte >= 0x80), or 0:
// no overlong forms, no surrogates, not U+FFFE/U+FFFF, nothing past U+10FFFF.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto c = byte(0);
  const std::size_t len = c >= 0xF0 && c <= 0xF4   ? 4
                          : c >= 0xE0 && c <= 0xEF ? 3
                          : c >= 0xC2 && c <= 0xDF ? 2
                                                   : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k)
    if ((byte(k) & 0xC0) != 0x80) return 0;
  if (len == 3 && ((c == 0xE0 && byte(1) < 0xA0) || (c == 0xED && byte(1) >= 0xA0) ||
                   (c == 0xEF && byte(1) == 0xBF && byte(2) >= 0xBE)))
    return 0;
  if (len == 4 && ((c == 0xF0 && byte(1) < 0x90) || (c == 0xF4 && byte(1) >= 0x90))) return 0;
  return len;
}

void append_hex(std::string& out, const char* prefix, unsigned char c) {
  static constexpr char hex[] = "0123456789ABCDEF";
  out += prefix;
  out += hex[c >> 4];
  out += hex[c & 15];
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else if (c == '\'')
      out += "&apos;";
    else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
      append_hex(out, "\\u00", c);
    else if (c < 0x80)
      out += static_cast<char>(c);
    else if (const auto n = utf8_length(s, i); n != 0)
      out.append(s.substr(i, len = n));
    else
      append_hex(out, "\\x", c);
    i += len;
  }
  return out;
}

std::string junit_xml(const std::string& suite, const std::string& file,
                      const std::vector<CaseResult>& results) {
  std::size_t failures = 0;
  double seconds = 0;
  for (const auto& r : results) {
    failures += r.passed ? 0 : 1;
    seconds += r.seconds;
  }
  auto time = [](double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", s);
    return std::string(buf);
  };
  const auto counts = " tests=\"" + std::to_string(results.size()) + "\" failures=\"" +
                      std::to_string(failures) + "\" errors=\"0\" time=\"" + time(seconds) + "\"";
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites" + counts + ">\n";
  x += "  <testsuite name=\"" + xml_escape(suite) + "\"" + counts + ">\n";
  for (const auto& r : results) {
    x += "    <testcase name=\"" + xml_escape(r.name) + "\" classname=\"" + xml_escape(file) + "\" time=\"" +
         time(r.seconds) + "\"";
    if (r.passed) {
      x += "/>\n";
      continue;
    }
    std::string text;
    for (const auto& l : r.failures) text += l + "\n";
    x += ">\n      <failure message=\"" + xml_escape(r.failures.front()) + "\" type=\"mismatch\">" +
         xml_escape(text) + "</failure>\n    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

}  // namespace weir::flowtest
