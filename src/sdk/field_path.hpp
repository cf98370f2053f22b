// A field path as written in a config ("a.b[0]", see the expression language), parsed at load so
// records never see a bad one. Components declare a field of this type to name a place in a
// record (json_map's targets, split's array).
#pragma once

#include <string>
#include <string_view>

#include "sdk/expr/expr.hpp"
#include "sdk/field.hpp"

namespace weir::sdk {

struct FieldPath {
  std::string text;
  expr::Path path;
};

// Parses `text` into `out`; a bad path (or `$` where it is not allowed) is a `bad_path`
// diagnostic at `c.pointer`, with the column inside the path.
bool parse_field_path(std::string_view text, FieldPath& out, ParseCtx& c, bool root_allowed);

template <>
struct Codec<FieldPath> {
  static bool parse(const boost::json::value& v, FieldPath& out, ParseCtx& c, const FieldOpts&) {
    if (!v.is_string()) {
      detail::wrong_type(c, "a string", v);
      return false;
    }
    return parse_field_path(v.get_string(), out, c, false);
  }
  static boost::json::object schema(const FieldOpts&) {
    return {{"type", "string"}, {"x-weir-kind", "path"}};
  }
  static std::string type_name() { return "path"; }
  static boost::json::value to_json(const FieldPath& p) { return boost::json::string(p.text); }
};

}  // namespace weir::sdk
