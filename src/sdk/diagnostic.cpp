#include "sdk/diagnostic.hpp"

#include <string>

#include "sdk/base/quote.hpp"

namespace weir::sdk {

std::string pointer_append(std::string_view base, std::string_view token) {
  std::string out(base);
  out.reserve(base.size() + token.size() + 1);
  out.push_back('/');
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out.push_back(c);
  }
  return out;
}

std::string pointer_append(std::string_view base, std::size_t index) {
  return pointer_append(base, std::to_string(index));
}

std::string format(const Diagnostic& d) {
  // Each part may quote user input (a key in the pointer, a value in the message, a file name):
  // control characters are escaped, and a part is cut where no reader follows it any more.
  constexpr std::size_t max_part = 1000;
  auto put = [](std::string& out, std::string_view part) {
    if (append_escaped(out, part, max_part) < part.size()) out += "\xE2\x80\xA6";
  };
  std::string out;
  if (!d.file.empty()) {
    put(out, d.file);
    out += ':';
    out += std::to_string(d.line);
    out += ':';
    out += std::to_string(d.column);
    out += ": ";
  }
  out += d.severity == Severity::error ? "error[" : "warning[";
  out += d.code;
  out += "] ";
  put(out, d.pointer.empty() ? "/" : d.pointer);
  out += ": ";
  put(out, d.message);
  if (!d.hint.empty()) {
    out += " (";
    put(out, d.hint);
    out += ')';
  }
  return out;
}

}  // namespace weir::sdk
