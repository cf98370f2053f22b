#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sdk/base/quote.hpp"
#include "sdk/expr/expr.hpp"
#include "sdk/field_path.hpp"
#include "sdk/spec.hpp"

namespace weir::components::json_map {

using sdk::FieldPath;
using sdk::parse_field_path;

// A JSON object whose keys are field paths, in the order written. `RootAllowed` says whether
// a key may be `$` (the whole record).
template <class V, bool RootAllowed = false>
struct PathMap {
  std::vector<std::pair<FieldPath, V>> entries;
};

struct Config {
  PathMap<sdk::Expression, true> set;
  PathMap<FieldPath> rename;
  std::vector<FieldPath> remove;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::json_map

namespace weir::sdk {

// Every key is checked as a path and every value with V's codec, each at its own pointer.
// When the values are paths too (rename), two keys may not name the same target.
template <class V, bool RootAllowed>
struct Codec<components::json_map::PathMap<V, RootAllowed>> {
  using Map = components::json_map::PathMap<V, RootAllowed>;

  static bool parse(const boost::json::value& v, Map& out, ParseCtx& c, const FieldOpts& o) {
    if (!v.is_object()) {
      detail::wrong_type(c, "an object", v);
      return false;
    }
    out.entries.clear();
    bool ok = true;
    for (const auto& kv : v.get_object()) {
      ParseCtx sub{c.diags, pointer_append(c.pointer, kv.key())};
      sdk::FieldPath key;
      V value{};
      const bool key_ok = sdk::parse_field_path(kv.key(), key, sub, RootAllowed);
      if (!key_ok || !Codec<V>::parse(kv.value(), value, sub, o)) {
        ok = false;
        continue;
      }
      if constexpr (std::is_same_v<V, sdk::FieldPath>) {
        for (const auto& [_, earlier] : out.entries) {
          if (earlier.path == value.path) {
            c.diags.error(sub.pointer, "invalid_value",
                          sdk::quote(value.text) + " is already the target of another entry",
                          "each target may be written by one entry only");
            ok = false;
          }
        }
      }
      out.entries.emplace_back(std::move(key), std::move(value));
    }
    return ok;
  }
  static boost::json::object schema(const FieldOpts& o) {
    return {{"type", "object"}, {"additionalProperties", Codec<V>::schema(o)}};
  }
  static std::string type_name() { return "map of path to " + Codec<V>::type_name(); }
  static boost::json::value to_json(const Map& m, const FieldOpts& o) {
    boost::json::object obj;
    for (const auto& [k, x] : m.entries) obj[k.text] = codec_to_json(x, o);
    return obj;
  }
};

}  // namespace weir::sdk
