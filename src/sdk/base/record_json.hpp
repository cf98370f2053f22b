// Records from outside (an input's payload, a raw WebSocket client's frame, a batch line on an
// internal edge) are parsed in one place, with the same limits everywhere: a size, a nesting
// depth, and numbers a double can hold. A record that fails goes to the `error` port with the
// reason, carried by raw_record_value(), which is always valid JSON.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "sdk/base/json_read.hpp"

namespace weir::sdk {

// 1 MiB: nats-server's default max_payload, so a larger record could not be published on an edge
// anyway; refusing it before the parse bounds the memory a hostile payload takes.
inline constexpr std::size_t record_max_bytes = 1024 * 1024;
// Nesting deeper than this is refused by the parser itself (no recursion past it anywhere).
inline constexpr std::size_t record_max_depth = 64;

// Keeps its buffers from record to record: one per thread that parses. Numbers are read correctly
// rounded (sdk::JsonParser), so a record crosses any number of hops unchanged.
class RecordParser {
 public:
  RecordParser();
  // One record's JSON text. False with `reason` set ("invalid JSON: ...", "record of N bytes, more
  // than the limit of 1048576", "nesting deeper than 64 levels", "number out of range of a double
  // at /a/0"), and `out` left alone.
  // `sp`: where the value allocates (default: the heap).
  bool parse(std::string_view text, boost::json::value& out, std::string& reason,
             boost::json::storage_ptr sp = {});
  // An input's payload as a record value: with `as_text`, the payload itself as a JSON string
  // (false, "not UTF-8 text", when it is not UTF-8); otherwise parse().
  bool payload(std::string_view payload, bool as_text, boost::json::value& out, std::string& reason);
  // Whether `text` is a record parse() takes, on one line (no CR, no LF): such a text can go into
  // a batch as it is (InputSink::push_json), without being parsed and written again. False says
  // nothing more: parse() tells why.
  bool passes_as_line(std::string_view text);

 private:
  JsonParser parser_;
  JsonChecker checker_;
};

// What an error record keeps of a payload that is too large to keep whole: its first bytes.
inline constexpr std::size_t raw_keep_max_bytes = 64 * 1024;
// A payload is kept whole as a JSON string while that string takes at most this much (control
// characters take 6 bytes each once escaped), so that an error record always fits a message.
inline constexpr std::size_t raw_keep_whole_bytes = 512 * 1024;

// What an input sends to its `error` port for a payload it could not take: the payload as a JSON
// string when it is UTF-8 text, else {"raw_base64": "...", "reason": "..."}: the bytes kept, and
// the record still valid JSON for whatever reads the port. A payload whose string would take more
// than raw_keep_whole_bytes is kept as its first raw_keep_max_bytes with its size:
// {"raw_head": "..."} (UTF-8, cut at a character) or {"raw_base64": "..."}, plus
// "raw_bytes": <size> and "reason".
boost::json::value raw_record_value(std::string_view payload, std::string_view reason);

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s);

}  // namespace weir::sdk
