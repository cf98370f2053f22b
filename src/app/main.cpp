// weir: the command line. Each subcommand is a thin call into a library.
#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "app/api_cmds.hpp"
#include "app/config_cmd.hpp"
#include "app/dlq_cmd.hpp"
#include "app/docs.hpp"
#include "app/flows_cmd.hpp"
#include "app/run.hpp"
#include "app/test_cmd.hpp"
#include "config/engine_config.hpp"
#include "flow/loader.hpp"
#include "registry/registry.hpp"

#ifndef WEIR_VERSION
#define WEIR_VERSION "unknown"
#endif

namespace {

using namespace weir;

int validate(const std::vector<std::string>& files) {
  bool ok = true;
  for (const auto& f : files) {
    auto r = flow::load_flow_file(f, registry::builtins(), ::getenv);
    for (const auto& d : r.diagnostics.items()) std::printf("%s\n", sdk::format(d).c_str());
    if (r.flow)
      std::fprintf(stderr, "%s: ok (flow \"%s\", %zu components)\n", f.c_str(), r.flow->name.c_str(),
                   r.flow->components.size());
    else
      ok = false;
  }
  return ok ? 0 : 1;
}

int components(const std::string& type, bool as_json, bool as_markdown) {
  const auto& reg = registry::builtins();
  if (type.empty()) {
    if (as_json) {
      boost::json::array all;
      for (const auto& info : reg.all()) all.push_back(app::component_json(info));
      std::cout << app::pretty_json(all);
    } else {
      std::cout << app::component_list(reg);
    }
    return 0;
  }
  const auto* info = reg.find(type);
  if (!info) {
    std::fprintf(stderr, "weir: unknown component type \"%s\"; `weir components` lists them\n", type.c_str());
    return 2;
  }
  if (as_json)
    std::cout << app::pretty_json(app::component_json(*info));
  else if (as_markdown)
    std::cout << app::fields_markdown(*info);
  else
    std::cout << app::component_text(*info);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"weir: an edge stream-flow runtime on NATS JetStream", "weir"};
  cli.require_subcommand(1);

  app::RunOptions run;
  auto* run_cmd = cli.add_subcommand("run", "Run the engine and deploy the flows in the flows dir");
  run_cmd->add_option("-c,--config", run.config_file, config::config_flag_help);
  run_cmd->add_option("--flows", run.flows_dir, "Flows directory (overrides the config)");
  run_cmd->add_option("--data-dir", run.data_dir, "Data directory (overrides the config)");
  run_cmd->add_option("--nats-url", run.nats_url, "NATS URL; empty starts an embedded nats-server");
  run_cmd->add_option("--log-level", run.log_level, "trace|debug|info|warn|error|off");
  run_cmd->add_option("--http-listen", run.http_listen, "HTTP API address host:port; empty disables it");

  std::vector<std::string> files;
  auto* validate_cmd = cli.add_subcommand("validate", "Check flow files; exit 0 valid, 1 invalid, 2 usage");
  validate_cmd->add_option("files", files, "Flow files")->required();

  std::string type;
  bool as_json = false, as_markdown = false;
  auto* comp_cmd = cli.add_subcommand("components", "List component types, or describe one");
  comp_cmd->add_option("type", type, "Component type");
  comp_cmd->add_flag("--json", as_json, "Machine-readable output");
  comp_cmd->add_flag("--markdown", as_markdown, "The README fields section of TYPE");

  auto* schema_cmd = cli.add_subcommand("schema", "Print the JSON Schema of flow files");
  auto* version_cmd = cli.add_subcommand("version", "Print the version");
  app::ApiCommands api_cmds{cli};
  app::DlqCommand dlq_cmd{cli};
  app::FlowsCommand flows_cmd{cli};
  app::ConfigOptions config_opts;
  auto* config_cmd = app::add_config_command(cli, config_opts);
  app::TestOptions test_opts;
  auto* test_cmd = app::add_test_command(cli, test_opts);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help and usage errors itself; usage errors exit 2 like `weir validate`'s.
    auto code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (*run_cmd) return app::run_engine(run);
  if (*validate_cmd) return validate(files);
  if (*comp_cmd) return components(type, as_json, as_markdown);
  if (api_cmds.selected()) return api_cmds.run();
  if (dlq_cmd.selected()) return dlq_cmd.run();
  if (*config_cmd) return app::run_config(config_opts);
  if (*test_cmd) return app::run_test(test_opts);
  if (flows_cmd.selected()) return flows_cmd.run();
  if (*schema_cmd) {
    std::cout << app::pretty_json(app::flow_schema(registry::builtins()));
    return 0;
  }
  if (*version_cmd) {
    std::printf("weir %s\n", WEIR_VERSION);
    return 0;
  }
  return 2;
}
