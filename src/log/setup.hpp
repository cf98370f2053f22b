// Process-wide logging: spdlog's default logger, configured from the engine config.
#pragma once

#include <string>

#include "config/engine_config.hpp"

namespace weir::log {

// Replaces spdlog's default logger: stderr, plus a size-rotated file when `file` is set (its
// folder is created). Format `text`: "2024-05-01T12:00:00.123 info message" in local time,
// coloured on a terminal. Format `json`: one object per line, {"ts":..., "level":..., "msg":...}
// with ts in UTC ("2024-05-01T12:00:00.123Z") and level one of trace debug info warn error
// critical; a "[flow/component] " prefix of the message becomes "flow" and "component" fields.
// In both formats the password of any URL a message quotes is masked (redact_urls). Lines of
// level warn and above are flushed at once, the rest within a second.
// Returns false (and *error) when the log file cannot be opened; stderr logging is set up anyway.
// Call it before other threads log: spdlog's default logger is not swapped atomically.
bool setup_logging(const config::LogConfig& config, std::string* error = nullptr);

}  // namespace weir::log
