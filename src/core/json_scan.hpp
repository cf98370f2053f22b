// Internal to weir_core: the raw-text scanner behind SourceMap. Not for use outside src/core.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_source.hpp"

namespace weir::core::detail {

struct ScanIssue {
  std::string code;
  std::string pointer;
  std::string message;
  std::string hint;
  std::size_t offset = 0;
};

// Records the offset of every value of a document Boost.JSON has already accepted, keyed by
// JSON Pointer, starting at `start`. Reports duplicate member names (Boost keeps the last one,
// so the map does too) and numbers too large for a double (Boost turns them into infinity).
void scan_json(std::string_view text, std::size_t start, EntryMap& entries, std::vector<ScanIssue>& issues);

// Decodes the JSON string whose opening quote is at text[pos]; leaves pos past the closing quote
// (or at the end of the text when it is unterminated). Lone surrogates become WTF-8.
std::string decode_string(std::string_view text, std::size_t& pos);

// For the string whose opening quote is at text[quote]: how many characters of raw text, from
// the one after the quote, precede the decoded byte `offset` (escape sequences count as the
// characters they are written with). Clamped to the closing quote.
std::size_t string_columns(std::string_view text, std::size_t quote, std::size_t offset);

// Number of characters (UTF-8 code points; a tab is one) in text[from, to).
std::size_t count_chars(std::string_view text, std::size_t from, std::size_t to);

}  // namespace weir::core::detail

namespace weir::core::detail {

struct SyntaxProblem {
  std::size_t offset = 0;  // where to point the user
  std::string pointer;     // the innermost value being parsed
  std::string message;
  std::string hint;
};

// Explains a parse failure: `offset` is where Boost.JSON stopped; `incomplete` and `extra`
// distinguish the end-of-input and trailing-data errors from other syntax errors.
SyntaxProblem describe_syntax_error(std::string_view text, std::size_t start, std::size_t offset,
                                    bool incomplete, bool extra);

}  // namespace weir::core::detail
