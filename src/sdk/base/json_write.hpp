// Compact JSON output for everything the engine emits (records, API bodies, logs).
// Boost.JSON's serializer writes doubles as "2.15E1"; users expect "21.5", so numbers go
// through std::to_chars instead.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

namespace weir::sdk {

// Appends `v` as compact JSON to `out`, allocating nothing beyond growing `out`.
// - Doubles use the shortest form that parses back to the same double ("21.5", "1e+100").
//   An integral double keeps a ".0" ("3.0") so it stays a double when read back.
// - NaN and infinities, which JSON cannot express, are written as null.
// - Strings are escaped per RFC 8259: '"', '\\', and control characters (\n \t \r \b \f as
//   such, others as \u00XX). Other bytes, UTF-8 included, are copied as they are.
void write_json(std::string& out, const boost::json::value& v);

// Appends `s` as a quoted, escaped JSON string.
void write_json_string(std::string& out, std::string_view s);

std::string to_json(const boost::json::value& v);

}  // namespace weir::sdk
