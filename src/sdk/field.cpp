#include "sdk/field.hpp"

#include "sdk/base/json_read.hpp"

#include <boost/json/kind.hpp>
#include <cmath>
#include <string>

#include "sdk/base/quote.hpp"
#include "sdk/base/suggest.hpp"
#include "sdk/base/units.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::sdk::detail {

namespace json = boost::json;

namespace {

std::string number_text(double x) {
  if (std::floor(x) == x && std::fabs(x) < 9.2e18) return std::to_string(static_cast<long long>(x));
  std::string s = std::to_string(x);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

bool check_range(double x, ParseCtx& c, const FieldOpts& o, const std::string& shown) {
  if ((o.min_ && x < *o.min_) || (o.max_ && x > *o.max_)) {
    std::string range;
    // Type limits (an int's) are not worth printing: show only the bounds that mean something.
    const bool has_min = o.min_ && *o.min_ > -9e18;
    const bool has_max = o.max_ && *o.max_ < 9e18;
    if (has_min && has_max)
      range = "must be " + number_text(*o.min_) + ".." + number_text(*o.max_);
    else if (has_min)
      range = "must be at least " + number_text(*o.min_);
    else if (has_max)
      range = "must be at most " + number_text(*o.max_);
    else
      range = "out of range";
    c.diags.error(c.pointer, "out_of_range", range + ", got " + shown);
    return false;
  }
  return true;
}

}  // namespace

const char* kind_name(const json::value& v) {
  // Config fields tell integers from other numbers.
  return v.is_int64() || v.is_uint64() ? "an integer" : sdk::kind_name(v);
}

void wrong_type(ParseCtx& ctx, const char* expected, const json::value& v) {
  ctx.diags.error(ctx.pointer, "wrong_type", std::string("expected ") + expected + ", got " + kind_name(v));
}

bool parse_int(const json::value& v, long long& out, ParseCtx& c, const FieldOpts& o) {
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64()) {
    if (!check_range(static_cast<double>(v.get_uint64()), c, o, std::to_string(v.get_uint64()))) return false;
    out = static_cast<long long>(v.get_uint64());
  } else if (v.is_double() && std::floor(v.get_double()) == v.get_double() &&
             std::fabs(v.get_double()) < 9.2e18) {
    out = static_cast<long long>(v.get_double());
  } else {
    wrong_type(c, "an integer", v);
    return false;
  }
  return check_range(static_cast<double>(out), c, o, std::to_string(out));
}

bool parse_uint(const json::value& v, unsigned long long& out, ParseCtx& c, const FieldOpts& o) {
  if (v.is_uint64()) {
    out = v.get_uint64();
    return check_range(static_cast<double>(out), c, o, std::to_string(out));
  }
  long long x = 0;
  if (!parse_int(v, x, c, o)) return false;
  out = static_cast<unsigned long long>(x);
  return true;
}

bool parse_double(const json::value& v, double& out, ParseCtx& c, const FieldOpts& o) {
  if (!v.is_number()) {
    wrong_type(c, "a number", v);
    return false;
  }
  out = v.to_number<double>();
  return check_range(out, c, o, number_text(out));
}

bool parse_string(const json::value& v, std::string& out, ParseCtx& c, const FieldOpts& o) {
  if (!v.is_string()) {
    wrong_type(c, "a string", v);
    return false;
  }
  out = std::string(v.get_string());
  if (o.not_empty_ && out.empty()) {
    c.diags.error(c.pointer, "invalid_value", "must not be empty");
    return false;
  }
  return true;
}

bool parse_duration(const json::value& v, std::chrono::nanoseconds& out, ParseCtx& c, const FieldOpts& o) {
  if (!v.is_string()) {
    wrong_type(c, "a duration string", v);
    return false;
  }
  std::string error;
  auto d = sdk::parse_duration(v.get_string(), &error);
  if (!d) {
    c.diags.error(c.pointer, "invalid_value",
                  error.empty() ? "not a duration: " + quote(v.get_string()) : error,
                  "use a number with a unit: 500ms, 30s, 5m, 72h");
    return false;
  }
  if ((o.min_duration_ && *d < *o.min_duration_) || (o.max_duration_ && *d > *o.max_duration_)) {
    std::string range = "must be " + (o.min_duration_ ? format_duration(*o.min_duration_) : "0") + ".." +
                        (o.max_duration_ ? format_duration(*o.max_duration_) : "");
    c.diags.error(c.pointer, "out_of_range", range + ", got " + std::string(v.get_string()));
    return false;
  }
  out = *d;
  return true;
}

bool parse_bytes(const json::value& v, ByteSize& out, ParseCtx& c, const FieldOpts& o) {
  std::optional<std::uint64_t> n;
  std::string shown;
  if (v.is_string()) {
    std::string error;
    n = parse_byte_size(v.get_string(), &error);
    shown = std::string(v.get_string());
    if (!n) {
      c.diags.error(c.pointer, "invalid_value", error.empty() ? "not a byte size: " + quote(shown) : error,
                    "use a number with a unit: 512KiB, 64MiB, 1GB");
      return false;
    }
  } else if (v.is_uint64() || (v.is_int64() && v.get_int64() >= 0)) {
    n = v.is_uint64() ? v.get_uint64() : static_cast<std::uint64_t>(v.get_int64());
    shown = std::to_string(*n);
  } else {
    wrong_type(c, "a byte size (\"64MiB\" or a number of bytes)", v);
    return false;
  }
  if ((o.min_bytes_ && *n < *o.min_bytes_) || (o.max_bytes_ && *n > *o.max_bytes_)) {
    std::string range = "must be " + format_byte_size(o.min_bytes_.value_or(0)) + ".." +
                        (o.max_bytes_ ? format_byte_size(*o.max_bytes_) : "");
    c.diags.error(c.pointer, "out_of_range", range + ", got " + shown);
    return false;
  }
  out.bytes = *n;
  return true;
}

bool parse_enum(const json::value& v, long long& out, ParseCtx& c, const FieldOpts& o) {
  if (!v.is_string()) {
    wrong_type(c, "a string", v);
    return false;
  }
  std::vector<std::string> names;
  for (const auto& opt : o.options_) {
    if (opt.name == v.get_string()) {
      out = opt.value;
      return true;
    }
    names.push_back(opt.name);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  auto near = closest(v.get_string(), names);
  c.diags.error(c.pointer, "invalid_value", "must be one of " + list + ", got " + quote(v.get_string()),
                near.empty() ? "" : "did you mean " + quote(near) + "?");
  return false;
}

bool parse_expression(const json::value& v, Expression& out, ParseCtx& c, const FieldOpts& o) {
  if (!parse_string(v, out.source, c, o)) return false;
  expr::CompileError err;
  auto program = expr::Program::compile(out.source, err);
  if (!program) {
    c.diags.error(c.pointer, "bad_expression",
                  err.message + " at column " + std::to_string(err.offset + 1) + " of the expression",
                  err.hint, static_cast<int>(err.offset));
    return false;
  }
  out.program = std::make_shared<const expr::Program>(std::move(*program));
  return true;
}

json::object number_schema(const char* type, const FieldOpts& o) {
  json::object s{{"type", type}};
  auto put = [&](const char* key, double x) {
    if (std::string_view(type) == "integer" && std::fabs(x) < 9.2e18)
      s[key] = static_cast<long long>(x);
    else
      s[key] = x;
  };
  if (o.min_) put("minimum", *o.min_);
  if (o.max_) put("maximum", *o.max_);
  return s;
}

json::object duration_schema(const FieldOpts&) {
  return {{"type", "string"},
          {"pattern", "^(0|([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+)$"},
          {"x-weir-kind", "duration"}};
}

json::object bytes_schema(const FieldOpts&) {
  json::object str{{"type", "string"}, {"pattern", "^[0-9]+(\\.[0-9]+)?([kKmMgGtTpP]i?[bB]|[bB])?$"}};
  json::object num{{"type", "integer"}, {"minimum", 0}};
  return {{"oneOf", json::array{num, str}}, {"x-weir-kind", "byte_size"}};
}

json::object enum_schema(const FieldOpts& o) {
  json::array names;
  for (const auto& opt : o.options_) names.push_back(json::string(opt.name));
  return {{"enum", names}};
}

json::value duration_json(std::chrono::nanoseconds d) {
  return json::string(format_duration(d));
}

json::value bytes_json(ByteSize b) {
  return json::string(format_byte_size(b.bytes));
}

json::value enum_json(long long v, const FieldOpts& o) {
  for (const auto& opt : o.options_)
    if (opt.value == v) return json::string(opt.name);
  return nullptr;
}

}  // namespace weir::sdk::detail
