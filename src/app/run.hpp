#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/engine_config.hpp"

namespace weir::app {

struct RunOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> flows_dir;
  std::optional<std::string> data_dir;
  std::optional<std::string> nats_url;
  std::optional<std::string> log_level;
  std::optional<std::string> http_listen;
};

// The engine-config options `weir run` has a flag for, bound to `options`' fields (the flags'
// names also appear in `weir config --reference`).
std::vector<config::FlagOverride> run_flags(const RunOptions& options);

// `weir run`: the engine until SIGTERM/SIGINT. Returns the process exit code.
int run_engine(const RunOptions& options);

}  // namespace weir::app
