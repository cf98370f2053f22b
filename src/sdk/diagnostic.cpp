#include "sdk/diagnostic.hpp"

#include <string>

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
  std::string out;
  if (!d.file.empty()) {
    out += d.file;
    out += ':';
    out += std::to_string(d.line);
    out += ':';
    out += std::to_string(d.column);
    out += ": ";
  }
  out += d.severity == Severity::error ? "error[" : "warning[";
  out += d.code;
  out += "] ";
  out += d.pointer.empty() ? "/" : d.pointer;
  out += ": ";
  out += d.message;
  if (!d.hint.empty()) {
    out += " (";
    out += d.hint;
    out += ')';
  }
  return out;
}

}  // namespace weir::sdk
