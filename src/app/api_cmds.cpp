#include "app/api_cmds.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "config/engine_config.hpp"
#include "http/client.hpp"

namespace weir::app {

namespace {

std::atomic<bool> interrupted{false};

// The API address: --api, else the engine config's http.listen (a wildcard host means this host).
std::optional<std::string> api_address(const std::optional<std::string>& api,
                                       const std::optional<std::string>& config_file) {
  if (api) return *api;
  auto loaded = config::load_engine_config_with_flags(config_file, {});
  for (const auto& d : loaded.diagnostics.items()) std::fprintf(stderr, "%s\n", sdk::format(d).c_str());
  if (loaded.diagnostics.has_errors()) return std::nullopt;
  auto listen = loaded.config.http.listen;
  if (listen.empty()) {
    std::fprintf(stderr, "weir: the engine's HTTP API is off (http.listen is empty); pass --api HOST:PORT\n");
    return std::nullopt;
  }
  for (const char* any : {"0.0.0.0:", "[::]:"})
    if (listen.rfind(any, 0) == 0) listen = "127.0.0.1:" + listen.substr(std::string(any).size());
  return listen;
}

}  // namespace

struct ApiCommands::State {
  CLI::App* health = nullptr;
  CLI::App* tap = nullptr;
  std::optional<std::string> config_file;
  std::optional<std::string> api;
  std::string flow;
  std::string target;
  std::uint64_t count = 0;
  bool quiet = false;
};

ApiCommands::ApiCommands(CLI::App& cli) : state_(std::make_unique<State>()) {
  auto& s = *state_;
  s.health = cli.add_subcommand("health", "Ask a running engine whether it is ready; exit 0 ready, 1 not");
  s.health->add_option("-c,--config", s.config_file,
                       std::string(config::config_flag_help) + "; its http.listen is the address");
  s.health->add_option("--api", s.api, "API address HOST:PORT (overrides the config)");
  s.health->add_flag("-q,--quiet", s.quiet, "Print nothing; only the exit code");

  s.tap = cli.add_subcommand("tap", "Print the live records of a component's port in a running flow");
  s.tap->add_option("flow", s.flow, "Flow name")->required();
  s.tap->add_option("component", s.target, "COMPONENT or COMPONENT.PORT (default port: out)")->required();
  s.tap->add_option("-c,--config", s.config_file,
                    std::string(config::config_flag_help) + "; its http.listen is the address");
  s.tap->add_option("--api", s.api, "API address HOST:PORT (overrides the config)");
  s.tap->add_option("-n,--count", s.count, "Stop after this many records (0: until Ctrl-C)");
}

ApiCommands::~ApiCommands() = default;

bool ApiCommands::selected() const {
  return *state_->health || *state_->tap;
}

int ApiCommands::run() const {
  const auto& s = *state_;
  auto api = api_address(s.api, s.config_file);
  if (!api) return 2;
  if (*s.health) {
    auto r = http::request("GET", *api, "/ready", {}, {}, std::chrono::seconds(5));
    if (r.status == 0) {
      if (!s.quiet)
        std::fprintf(stderr, "weir: cannot reach the engine at %s: %s\n", api->c_str(), r.error.c_str());
      return 1;
    }
    if (!s.quiet) std::fputs(r.body.c_str(), r.status == 200 ? stdout : stderr);
    return r.status == 200 ? 0 : 1;
  }
  std::string component = s.target, port;
  if (auto dot = component.find('.'); dot != std::string::npos) {
    port = component.substr(dot + 1);
    component.resize(dot);
  }
  std::string target = "/api/v1/flows/" + s.flow + "/tap/" + component;
  if (!port.empty()) target += "/" + port;
  std::signal(SIGINT, [](int) { interrupted = true; });
  std::signal(SIGTERM, [](int) { interrupted = true; });
  std::uint64_t records = 0;
  bool first = true;
  std::string error;
  const int rc = http::stream_websocket(
      *api, target, {},
      [&](std::string_view text) {
        if (first) {  // the server's greeting names what is tapped
          first = false;
          std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
          return true;
        }
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        return s.count == 0 || ++records < s.count;
      },
      &error, &interrupted);
  if (rc > 0) {
    std::fprintf(stderr, "weir: tap refused (HTTP %d): %s\n", rc, error.c_str());
    return 1;
  }
  if (rc < 0) {
    std::fprintf(stderr, "weir: tap: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace weir::app
