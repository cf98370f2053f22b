#include "sdk/field_path.hpp"

namespace weir::sdk {

bool parse_field_path(std::string_view text, FieldPath& out, ParseCtx& c, bool root_allowed) {
  expr::CompileError err;
  auto path = expr::parse_path(text, err);
  if (!path) {
    c.diags.error(c.pointer, "bad_path",
                  err.message + " at column " + std::to_string(err.offset + 1) + " of the path", err.hint,
                  static_cast<int>(err.offset));
    return false;
  }
  if (path->is_root() && !root_allowed) {
    c.diags.error(c.pointer, "bad_path", "the record itself ($) is not a field", "name a field, e.g. a.b");
    return false;
  }
  out.text = std::string(text);
  out.path = std::move(*path);
  return true;
}

}  // namespace weir::sdk
