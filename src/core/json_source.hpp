// JSON text with source positions: parse once, then turn any JSON Pointer a validator reports
// into file:line:col for the user.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sdk/diagnostic.hpp"

namespace weir::core {

namespace detail {
inline constexpr std::size_t no_key = static_cast<std::size_t>(-1);
struct ScanEntry {
  std::size_t value = 0;     // byte offset of the value's first character
  std::size_t key = no_key;  // byte offset of the member name's opening quote
};
using EntryMap = std::map<std::string, ScanEntry, std::less<>>;
}  // namespace detail

// 1-based; {0, 0} means unknown. Columns count characters (UTF-8 code points) on the line, a
// tab counting as one, which is what editors show with a tab width of 1 and what `:line:col`
// jump-to-location expects. Only '\n' ends a line.
struct Position {
  int line = 0;
  int column = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

class SourceMap {
 public:
  // Where the value at `pointer` starts. For a pointer that names nothing, the position of its
  // nearest existing ancestor (where a "missing field" belongs). {0, 0} when nothing was parsed.
  Position value_position(std::string_view pointer) const;
  // Where the member name is, for an object member; otherwise as value_position.
  Position key_position(std::string_view pointer) const;
  bool contains(std::string_view pointer) const;

  // Sets d.file and, unless d already has a line, d.line/d.column from d.pointer. With
  // d.offset >= 0 and a string at the pointer, the column is that of the character at decoded
  // byte `offset` inside the string (escape sequences counted as written in the file).
  // Diagnostics for unknown members (code "unknown_field") point at the member name.
  void locate(sdk::Diagnostic& d, std::string_view file) const;
  void locate(sdk::Diagnostics& ds, std::string_view file) const;

  // Position of a byte offset into the parsed text.
  Position position_at(std::size_t offset) const;

 private:
  friend struct SourceMapBuilder;
  const detail::ScanEntry* find_nearest(std::string_view pointer) const;

  std::string text_;
  std::size_t start_ = 0;  // past a UTF-8 byte order mark, if any
  std::vector<std::size_t> line_starts_;
  detail::EntryMap entries_;
};

struct ParsedJson {
  boost::json::value value;  // null when !ok
  SourceMap map;
  // Positions are already filled (file is left empty). Codes: json_syntax (then ok is false),
  // duplicate_key, out_of_range (a number beyond a double's range).
  sdk::Diagnostics diagnostics;
  bool ok = false;  // the text is JSON; diagnostics may still hold errors (duplicate keys)
};

// Strict RFC 8259 (no comments, no trailing commas, valid UTF-8), nesting up to 64 levels.
// A leading UTF-8 byte order mark is skipped.
ParsedJson parse_json_source(std::string_view text);

// The whole file; on failure returns "" and sets *error (when given) to a one-line reason that
// names the file. A file of more than `max_bytes` is refused without reading it (*too_large set;
// the reason ends "N, more than the limit of MAX" so that the caller can add the unit).
std::string read_file(const std::filesystem::path& path, std::string* error,
                      std::size_t max_bytes = static_cast<std::size_t>(-1), bool* too_large = nullptr);

}  // namespace weir::core
