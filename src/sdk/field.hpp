// Field options and the per-type codecs behind ComponentSpec: one codec per C++ type gives
// parsing with diagnostics, the JSON Schema fragment, the docs type name and the default's JSON.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "sdk/diagnostic.hpp"

namespace weir::sdk::expr {
class Program;
}

namespace weir::sdk {

// A byte count written as "64MiB" or a plain integer in flow files.
struct ByteSize {
  std::uint64_t bytes = 0;
  friend bool operator==(ByteSize, ByteSize) = default;
};

// An expression compiled at load; evaluation is const and thread-safe.
struct Expression {
  std::string source;
  std::shared_ptr<const expr::Program> program;
};

struct EnumOption {
  std::string name;
  long long value = 0;
  std::string doc;
};

// Options of one field. Built with sdk::field().required().doc("...").
struct FieldOpts {
  bool required_ = false;
  bool secret_ = false;
  bool advanced_ = false;
  bool not_empty_ = false;
  std::string doc_;
  std::string deprecated_;
  std::optional<boost::json::value> example_;
  std::optional<double> min_, max_;  // ints and floats
  std::optional<std::chrono::nanoseconds> min_duration_, max_duration_;
  std::optional<std::uint64_t> min_bytes_, max_bytes_;
  std::vector<EnumOption> options_;

  FieldOpts& required(bool on = true) {
    required_ = on;
    return *this;
  }
  FieldOpts& secret(bool on = true) {
    secret_ = on;
    return *this;
  }
  FieldOpts& advanced(bool on = true) {
    advanced_ = on;
    return *this;
  }
  FieldOpts& not_empty(bool on = true) {
    not_empty_ = on;
    return *this;
  }
  FieldOpts& doc(std::string text) {
    doc_ = std::move(text);
    return *this;
  }
  FieldOpts& deprecated(std::string why) {
    deprecated_ = std::move(why);
    return *this;
  }
  FieldOpts& example(boost::json::value v) {
    example_ = std::move(v);
    return *this;
  }
  FieldOpts& range(double lo, double hi) {
    min_ = lo;
    max_ = hi;
    return *this;
  }
  FieldOpts& min(double lo) {
    min_ = lo;
    return *this;
  }
  FieldOpts& duration_range(std::chrono::nanoseconds lo, std::chrono::nanoseconds hi) {
    min_duration_ = lo;
    max_duration_ = hi;
    return *this;
  }
  FieldOpts& size_range(std::uint64_t lo, std::uint64_t hi) {
    min_bytes_ = lo;
    max_bytes_ = hi;
    return *this;
  }
  template <class E>
  requires std::is_enum_v<E> FieldOpts& option(std::string name, E value, std::string doc) {
    options_.push_back({std::move(name), static_cast<long long>(value), std::move(doc)});
    return *this;
  }
};

inline FieldOpts field() {
  return {};
}

// Where a value is parsed: diagnostics go to `diags` under `pointer`.
struct ParseCtx {
  Diagnostics& diags;
  std::string pointer;
};

// Type-erased description of a field, for docs.
struct FieldInfo {
  std::string name;
  std::string type;  // "string", "int", "duration", "list of string", ...
  FieldOpts opts;
  boost::json::value default_value;  // null when none worth showing
  std::vector<FieldInfo> fields;     // nested object fields
};

// ---- codec helpers (defined in field.cpp) ----
namespace detail {
const char* kind_name(const boost::json::value& v);
void wrong_type(ParseCtx& ctx, const char* expected, const boost::json::value& v);
bool parse_int(const boost::json::value& v, long long& out, ParseCtx& ctx, const FieldOpts& o);
bool parse_uint(const boost::json::value& v, unsigned long long& out, ParseCtx& ctx, const FieldOpts& o);
bool parse_double(const boost::json::value& v, double& out, ParseCtx& ctx, const FieldOpts& o);
bool parse_string(const boost::json::value& v, std::string& out, ParseCtx& ctx, const FieldOpts& o);
bool parse_duration(const boost::json::value& v, std::chrono::nanoseconds& out, ParseCtx& ctx,
                    const FieldOpts& o);
bool parse_bytes(const boost::json::value& v, ByteSize& out, ParseCtx& ctx, const FieldOpts& o);
bool parse_enum(const boost::json::value& v, long long& out, ParseCtx& ctx, const FieldOpts& o);
bool parse_expression(const boost::json::value& v, Expression& out, ParseCtx& ctx, const FieldOpts& o);
boost::json::object number_schema(const char* type, const FieldOpts& o);
boost::json::object duration_schema(const FieldOpts& o);
boost::json::object bytes_schema(const FieldOpts& o);
boost::json::object enum_schema(const FieldOpts& o);
boost::json::value duration_json(std::chrono::nanoseconds d);
boost::json::value bytes_json(ByteSize b);
boost::json::value enum_json(long long v, const FieldOpts& o);
}  // namespace detail

template <class T>
class ObjectSpec;

template <class T>
concept NestedObject = requires {
  { T::object_spec() } -> std::same_as<ObjectSpec<T>>;
};

template <class T>
struct Codec;

template <>
struct Codec<std::string> {
  static bool parse(const boost::json::value& v, std::string& out, ParseCtx& c, const FieldOpts& o) {
    return detail::parse_string(v, out, c, o);
  }
  static boost::json::object schema(const FieldOpts&) { return {{"type", "string"}}; }
  static std::string type_name() { return "string"; }
  static boost::json::value to_json(const std::string& s) { return boost::json::string(s); }
};

template <>
struct Codec<bool> {
  static bool parse(const boost::json::value& v, bool& out, ParseCtx& c, const FieldOpts&) {
    if (!v.is_bool()) {
      detail::wrong_type(c, "a boolean", v);
      return false;
    }
    out = v.get_bool();
    return true;
  }
  static boost::json::object schema(const FieldOpts&) { return {{"type", "boolean"}}; }
  static std::string type_name() { return "bool"; }
  static boost::json::value to_json(bool b) { return b; }
};

template <std::integral T>
requires(!std::same_as<T, bool>) struct Codec<T> {
  static bool parse(const boost::json::value& v, T& out, ParseCtx& c, const FieldOpts& o) {
    FieldOpts bounded = o;
    if (!bounded.min_ || *bounded.min_ < static_cast<double>(std::numeric_limits<T>::min()))
      bounded.min_ = static_cast<double>(std::numeric_limits<T>::min());
    if (!bounded.max_ || *bounded.max_ > static_cast<double>(std::numeric_limits<T>::max()))
      bounded.max_ = static_cast<double>(std::numeric_limits<T>::max());
    if constexpr (std::is_signed_v<T>) {
      long long x = 0;
      if (!detail::parse_int(v, x, c, bounded)) return false;
      out = static_cast<T>(x);
    } else {
      unsigned long long x = 0;
      if (!detail::parse_uint(v, x, c, bounded)) return false;
      out = static_cast<T>(x);
    }
    return true;
  }
  static boost::json::object schema(const FieldOpts& o) { return detail::number_schema("integer", o); }
  static std::string type_name() { return "int"; }
  static boost::json::value to_json(T x) { return x; }
};

template <>
struct Codec<double> {
  static bool parse(const boost::json::value& v, double& out, ParseCtx& c, const FieldOpts& o) {
    return detail::parse_double(v, out, c, o);
  }
  static boost::json::object schema(const FieldOpts& o) { return detail::number_schema("number", o); }
  static std::string type_name() { return "float"; }
  static boost::json::value to_json(double x) { return x; }
};

template <class Rep, class Period>
struct Codec<std::chrono::duration<Rep, Period>> {
  using D = std::chrono::duration<Rep, Period>;
  static bool parse(const boost::json::value& v, D& out, ParseCtx& c, const FieldOpts& o) {
    std::chrono::nanoseconds ns{};
    if (!detail::parse_duration(v, ns, c, o)) return false;
    out = std::chrono::duration_cast<D>(ns);
    return true;
  }
  static boost::json::object schema(const FieldOpts& o) { return detail::duration_schema(o); }
  static std::string type_name() { return "duration"; }
  static boost::json::value to_json(D d) {
    return detail::duration_json(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }
};

template <>
struct Codec<ByteSize> {
  static bool parse(const boost::json::value& v, ByteSize& out, ParseCtx& c, const FieldOpts& o) {
    return detail::parse_bytes(v, out, c, o);
  }
  static boost::json::object schema(const FieldOpts& o) { return detail::bytes_schema(o); }
  static std::string type_name() { return "byte size"; }
  static boost::json::value to_json(ByteSize b) { return detail::bytes_json(b); }
};

template <class E>
requires std::is_enum_v<E>
struct Codec<E> {
  static bool parse(const boost::json::value& v, E& out, ParseCtx& c, const FieldOpts& o) {
    long long x = 0;
    if (!detail::parse_enum(v, x, c, o)) return false;
    out = static_cast<E>(x);
    return true;
  }
  static boost::json::object schema(const FieldOpts& o) { return detail::enum_schema(o); }
  static std::string type_name() { return "enum"; }
  static boost::json::value to_json(E e, const FieldOpts& o) {
    return detail::enum_json(static_cast<long long>(e), o);
  }
};

template <>
struct Codec<Expression> {
  static bool parse(const boost::json::value& v, Expression& out, ParseCtx& c, const FieldOpts& o) {
    return detail::parse_expression(v, out, c, o);
  }
  static boost::json::object schema(const FieldOpts&) {
    return {{"type", "string"}, {"x-weir-kind", "expression"}};
  }
  static std::string type_name() { return "expression"; }
  static boost::json::value to_json(const Expression& e) { return boost::json::string(e.source); }
};

template <>
struct Codec<boost::json::value> {
  static bool parse(const boost::json::value& v, boost::json::value& out, ParseCtx&, const FieldOpts&) {
    out = v;
    return true;
  }
  static boost::json::object schema(const FieldOpts&) { return {}; }
  static std::string type_name() { return "json"; }
  static boost::json::value to_json(const boost::json::value& v) { return v; }
};

// Calls Codec<T>::to_json with the options when the codec needs them (enums).
template <class T>
boost::json::value codec_to_json(const T& x, const FieldOpts& o) {
  if constexpr (requires { Codec<T>::to_json(x, o); })
    return Codec<T>::to_json(x, o);
  else
    return Codec<T>::to_json(x);
}

template <class E>
struct Codec<std::vector<E>> {
  static bool parse(const boost::json::value& v, std::vector<E>& out, ParseCtx& c, const FieldOpts& o) {
    if (!v.is_array()) {
      detail::wrong_type(c, "an array", v);
      return false;
    }
    out.clear();
    bool ok = true;
    const auto& arr = v.get_array();
    FieldOpts elem = o;
    elem.required_ = false;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      ParseCtx sub{c.diags, pointer_append(c.pointer, i)};
      E e{};
      if (Codec<E>::parse(arr[i], e, sub, elem))
        out.push_back(std::move(e));
      else
        ok = false;
    }
    if (o.not_empty_ && arr.empty()) {
      c.diags.error(c.pointer, "invalid_value", "must not be empty");
      ok = false;
    }
    return ok;
  }
  static boost::json::object schema(const FieldOpts& o) {
    boost::json::object s{{"type", "array"}};
    s["items"] = Codec<E>::schema(o);
    if (o.not_empty_) s["minItems"] = 1;
    return s;
  }
  static std::string type_name() { return "list of " + Codec<E>::type_name(); }
  static boost::json::value to_json(const std::vector<E>& xs, const FieldOpts& o) {
    boost::json::array a;
    for (const auto& x : xs) a.push_back(codec_to_json(x, o));
    return a;
  }
};

template <class E>
struct Codec<std::map<std::string, E>> {
  static bool parse(const boost::json::value& v, std::map<std::string, E>& out, ParseCtx& c,
                    const FieldOpts& o) {
    if (!v.is_object()) {
      detail::wrong_type(c, "an object", v);
      return false;
    }
    out.clear();
    bool ok = true;
    FieldOpts elem = o;
    elem.required_ = false;
    for (const auto& kv : v.get_object()) {
      ParseCtx sub{c.diags, pointer_append(c.pointer, kv.key())};
      E e{};
      if (Codec<E>::parse(kv.value(), e, sub, elem))
        out.emplace(std::string(kv.key()), std::move(e));
      else
        ok = false;
    }
    if (o.not_empty_ && out.empty() && ok) {
      c.diags.error(c.pointer, "invalid_value", "must not be empty");
      ok = false;
    }
    return ok;
  }
  static boost::json::object schema(const FieldOpts& o) {
    boost::json::object s{{"type", "object"}};
    s["additionalProperties"] = Codec<E>::schema(o);
    return s;
  }
  static std::string type_name() { return "map of " + Codec<E>::type_name(); }
  static boost::json::value to_json(const std::map<std::string, E>& xs, const FieldOpts& o) {
    boost::json::object obj;
    for (const auto& [k, x] : xs) obj[k] = codec_to_json(x, o);
    return obj;
  }
};

template <NestedObject T>
struct Codec<T> {
  static bool parse(const boost::json::value& v, T& out, ParseCtx& c, const FieldOpts&) {
    return T::object_spec().parse(v, out, c.diags, c.pointer);
  }
  static boost::json::object schema(const FieldOpts&) { return T::object_spec().schema(); }
  static std::string type_name() { return "object"; }
  static boost::json::value to_json(const T& x) { return T::object_spec().to_json(x); }
};

}  // namespace weir::sdk
