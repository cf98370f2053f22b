#include "app/config_cmd.hpp"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "app/run.hpp"
#include "config/engine_config.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/diagnostic.hpp"

namespace weir::app {

namespace {

// The default at `pointer` as JSON text; paths under the current directory read "./x".
std::string default_text(const boost::json::value& defaults, const std::string& pointer) {
  std::error_code not_found;
  const auto* v = defaults.find_pointer(pointer, not_found);
  if (!v) return "";
  if (v->is_string()) {
    std::string s(v->get_string());
    std::error_code ec;
    const std::string cwd = std::filesystem::current_path(ec).string() + "/";
    if (!ec && s.rfind(cwd, 0) == 0) s = "./" + s.substr(cwd.size());
    return "`\"" + s + "\"`";
  }
  return "`" + sdk::to_json(*v) + "`";
}

int print_reference() {
  std::vector<std::pair<std::string, std::string>> flags;
  RunOptions none;
  for (const auto& f : run_flags(none)) flags.emplace_back(f.key, f.flag);
  const auto defaults = boost::json::parse(config::dump_engine_config(config::default_engine_config()));
  std::printf("| Key | Variable | `weir run` flag | Default | Meaning |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf(
      "| (the file itself) | `WEIR_CONFIG` | `-c`, `--config` | `config/weir.json` if present | "
      "The engine config file; every command that finds the engine reads it |\n");
  for (const auto& o : config::engine_options()) {
    std::string flag;
    for (const auto& [key, name] : flags)
      if (key == o.key) flag = "`" + name + "`";
    std::printf("| `%s` | `%s` | %s | %s | %s%s |\n", o.key.c_str(), o.env.c_str(), flag.c_str(),
                default_text(defaults, o.pointer).c_str(), o.doc.c_str(),
                o.secret ? " (secret: masked in output)" : "");
  }
  return 0;
}

}  // namespace

CLI::App* add_config_command(CLI::App& cli, ConfigOptions& options) {
  auto* cmd = cli.add_subcommand(
      "config", "Print the engine config in effect (file, then WEIR_* variables; secrets masked)");
  cmd->add_option("-c,--config", options.config_file, config::config_flag_help);
  cmd->add_flag("--reference", options.reference,
                "Print every option with its variable, flag and default (Markdown)");
  return cmd;
}

int run_config(const ConfigOptions& options) {
  if (options.reference) return print_reference();
  const auto loaded = config::load_engine_config_with_flags(options.config_file, {});
  for (const auto& d : loaded.diagnostics.items()) std::fprintf(stderr, "%s\n", sdk::format(d).c_str());
  if (loaded.diagnostics.has_errors()) return 1;
  std::fprintf(stderr, "# from %s and the environment\n",
               loaded.file.empty() ? "the defaults" : loaded.file.string().c_str());
  std::printf("%s\n", config::dump_engine_config(loaded.config).c_str());
  return 0;
}

}  // namespace weir::app
