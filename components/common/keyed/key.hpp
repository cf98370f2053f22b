// The key of a keyed processor (dedupe, throttle, deadband): one expression or a list of them,
// evaluated per record. Values are written as compact JSON, so "1" (a string) and 1 (a number)
// are different keys, and a list's key is the JSON array of its values (no separator to clash).
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <vector>

#include "sdk/field.hpp"

namespace weir::components::keyed {

struct KeyExprs {
  std::vector<sdk::Expression> exprs;  // none: the key was not given
  bool list = false;                   // written as a list in the flow file
};

enum class NoKey {
  whole_record,  // no expression: the key is the whole record (dedupe)
  one_bucket,    // no expression: every record has the same key (throttle, deadband)
};

// Writes the key of `record` to `out` (replacing it). False with the reason in `err` when an
// expression cannot be evaluated on it.
bool make_key(const KeyExprs& key, NoKey none, const boost::json::value& record, std::string& out,
              std::string& err);

}  // namespace weir::components::keyed

namespace weir::sdk {

// A `key` field: a string (one expression) or a non-empty list of strings.
template <>
struct Codec<components::keyed::KeyExprs> {
  static bool parse(const boost::json::value& v, components::keyed::KeyExprs& out, ParseCtx& c,
                    const FieldOpts& o);
  static boost::json::object schema(const FieldOpts& o);
  static std::string type_name() { return "expression or list of expression"; }
  static boost::json::value to_json(const components::keyed::KeyExprs& k);
};

}  // namespace weir::sdk
