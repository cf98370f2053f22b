// `weir config`: the engine config as the engine would see it (file, then WEIR_* variables;
// secrets masked), and `weir config --reference`, the table of every option with its variable
// and flag that packaging/README.md carries (a test keeps the two equal).
#pragma once

#include <optional>
#include <string>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}

namespace weir::app {

struct ConfigOptions {
  std::optional<std::string> config_file;
  bool reference = false;
};

// Adds `config` to the command line, filling `options` when parsed.
CLI::App* add_config_command(CLI::App& cli, ConfigOptions& options);
int run_config(const ConfigOptions& options);

}  // namespace weir::app
