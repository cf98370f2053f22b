// Log levels per flow: a flow may log more (debug while someone looks at it) or less than the
// engine. Lines carry their flow in the "[flow/component] " prefix; a line of a flow with its own
// level is kept by that level, every other line by the engine's. While no flow has its own level
// this costs nothing: the logger's level check is all there is.
#pragma once

#include <optional>
#include <string>

#include "config/engine_config.hpp"

namespace weir::log {

// The engine's level (setup_logging sets it; SIGHUP changes it).
void set_engine_level(config::LogLevel level);
// nullopt: the flow follows the engine's level again.
void set_flow_level(const std::string& flow, std::optional<config::LogLevel> level);

}  // namespace weir::log
