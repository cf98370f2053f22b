#pragma once

#include <optional>
#include <string>

namespace weir::app {

struct RunOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> flows_dir;
  std::optional<std::string> data_dir;
  std::optional<std::string> nats_url;
  std::optional<std::string> log_level;
  std::optional<std::string> http_listen;
};

// `weir run`: the engine until SIGTERM/SIGINT. Returns the process exit code.
int run_engine(const RunOptions& options);

}  // namespace weir::app
