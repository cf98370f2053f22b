// Validation diagnostics: collected, never thrown. Positions are resolved from the JSON Pointer
// by whoever owns the source text (the flow loader), so specs only ever deal in pointers.
#pragma once

#include <string>
#include <vector>

namespace weir::sdk {

enum class Severity { error, warning };

struct Diagnostic {
  Severity severity = Severity::error;
  std::string code;     // stable, snake_case: "missing_field", "out_of_range", ...
  std::string pointer;  // RFC 6901 JSON Pointer into the document ("" is the root)
  std::string message;
  std::string hint;  // optional "did you mean" or how to fix
  // For diagnostics inside a string value (an expression), the character offset inside the
  // string's content; -1 when the diagnostic is about the value as a whole.
  int offset = -1;
  // Filled by the owner of the source text: 1-based; 0 when unknown.
  std::string file;
  int line = 0;
  int column = 0;
};

class Diagnostics {
 public:
  void error(std::string pointer, std::string code, std::string message, std::string hint = {},
             int offset = -1) {
    items_.push_back({Severity::error,
                      std::move(code),
                      std::move(pointer),
                      std::move(message),
                      std::move(hint),
                      offset,
                      {},
                      0,
                      0});
  }
  void warning(std::string pointer, std::string code, std::string message, std::string hint = {}) {
    items_.push_back({Severity::warning,
                      std::move(code),
                      std::move(pointer),
                      std::move(message),
                      std::move(hint),
                      -1,
                      {},
                      0,
                      0});
  }
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void append(const Diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  }

  bool has_errors() const {
    for (const auto& d : items_)
      if (d.severity == Severity::error) return true;
    return false;
  }
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  std::vector<Diagnostic>& items() { return items_; }
  const std::vector<Diagnostic>& items() const { return items_; }

 private:
  std::vector<Diagnostic> items_;
};

// Appends one reference token to a JSON Pointer, escaping '~' and '/' (RFC 6901).
std::string pointer_append(std::string_view base, std::string_view token);
std::string pointer_append(std::string_view base, std::size_t index);

// "file:line:col: error[code] /pointer: message (hint)"
std::string format(const Diagnostic& d);

}  // namespace weir::sdk
