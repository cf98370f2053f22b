// The logger setup_logging installs, so that per-flow levels (flow_levels.hpp) can drop lines.
#pragma once

#include <spdlog/logger.h>

#include "config/engine_config.hpp"

namespace weir::log {

spdlog::level::level_enum to_spdlog(config::LogLevel level);

class FlowLevelLogger final : public spdlog::logger {
 public:
  using spdlog::logger::logger;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
};

}  // namespace weir::log
