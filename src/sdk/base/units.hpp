// Durations ("1h30m"), byte sizes ("64MiB") and times (RFC 3339) as written in flow files, the
// engine config and records.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir::sdk {

// Go-style durations: one or more <number><unit> terms, units ns us (or µs) ms s m h, e.g.
// "500ms", "1h30m", "1.5s". A bare "0" is allowed. Negative values, whitespace, a missing or
// unknown unit and anything past ~292 years are rejected. Fractions below 1ns are truncated.
// On failure returns nullopt and, when `error` is set, a one-line reason.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text, std::string* error = nullptr);

// Go's format without its zero fillers: hours and minutes as integer terms, the sub-minute rest
// as one decimal term in s, ms, us or ns ("1h30m", "1h5s", "1m500ms", "1.5s", "1.25ms", "250us").
// Zero is "0s". Any non-negative value parses back to itself.
std::string format_duration(std::chrono::nanoseconds d);

// Byte sizes: "100", "100B", "512KiB", "64MiB", "1GB". KB MB GB TB PB are powers of 1000,
// KiB MiB GiB TiB PiB powers of 1024; unit letters are case-insensitive ("64mib"), and a lone
// "b" means bytes (never bits). A fraction is accepted only when it gives a whole number of
// bytes ("1.5KiB" = 1536, "0.5B" is an error). Whitespace, unknown units and values past
// 2^64-1 are rejected.
std::optional<std::uint64_t> parse_byte_size(std::string_view text, std::string* error = nullptr);

// The shortest exact form: "64MiB", "1GB", "1500B", "0B". Always parses back to the same value.
std::string format_byte_size(std::uint64_t bytes);

// RFC 3339 time to ms since the epoch: "2026-12-07T10:00:00Z", "2026-12-07T10:00:00.250+01:00"
// (T, t or a space between date and time; Z, z or an offset; any number of fraction digits,
// truncated to ms; a leap second 60 is accepted). Nullopt when the text is not one, or names a
// date that does not exist.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace weir::sdk
