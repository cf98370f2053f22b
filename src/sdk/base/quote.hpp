// User input quoted in a diagnostic, an API message or a log line. A value from outside may hold
// anything: terminal escape sequences, carriage returns, NULs, bytes that are not UTF-8, or 50 MB.
// These helpers make such a value safe to print and short enough to read; every diagnostic
// (sdk::format) and every log line (the loggers log::setup_logging installs) go through them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace weir::sdk {

// How many characters of a value a message quotes.
inline constexpr std::size_t quote_max_chars = 80;

// `s` in double quotes, escaped as escape_controls() does plus '"' and '\\', cut after
// `max_chars` characters: "abc…" (52428800 bytes) says the value was longer and how long.
std::string quote(std::string_view s, std::size_t max_chars = quote_max_chars);

// Appends `s` to `out` with what a terminal or a log reader would act on made visible:
// C0 controls, DEL and C1 controls as \n \r \t or \u00XX (NUL as \u0000, so that nothing stops
// at it), bidirectional overrides as \u202e and the like, and bytes that are not UTF-8 as \xNN.
// Everything else is copied. At most `max_chars` characters of `s` are written; returns how many
// bytes of `s` they took (s.size() when all of it was written).
std::size_t append_escaped(std::string& out, std::string_view s,
                           std::size_t max_chars = std::string_view::npos, bool escape_quotes = false);

// Whether append_escaped() would change `s` (a scan, no allocation): the common case of a clean
// message costs no copy.
bool needs_escaping(std::string_view s);

// `s` escaped as append_escaped() does, whole.
std::string escape_controls(std::string_view s);

}  // namespace weir::sdk
