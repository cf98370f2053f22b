#include "app/run.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "bus/connection.hpp"
#include "bus/nats_server_process.hpp"
#include "config/engine_config.hpp"
#include "flow/loader.hpp"
#include "log/setup.hpp"
#include "registry/registry.hpp"
#include "runtime/engine.hpp"

namespace weir::app {

namespace {

using Clock = std::chrono::steady_clock;

void print(const sdk::Diagnostics& diags) {
  for (const auto& d : diags.items()) std::fprintf(stderr, "%s\n", sdk::format(d).c_str());
}

// Signals are taken synchronously by the main thread (sigwait), so they never interrupt a
// nats.c or worker thread; every thread created after this inherits the mask.
sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

long rss_kib() {
  long kib = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    std::fclose(f);
  }
  return kib;
}

}  // namespace

int run_engine(const RunOptions& options) {
  const auto started = Clock::now();
  const sigset_t signals = block_signals();

  std::optional<std::filesystem::path> file;
  if (options.config_file) file = *options.config_file;
  auto loaded = config::load_engine_config(file);
  std::string error;
  auto set = [&](const char* key, const std::optional<std::string>& v) {
    if (v && !config::set_option(loaded.config, key, *v, &error)) {
      sdk::Diagnostic d;
      d.code = "invalid_value";
      d.message = std::string("--") + key + ": " + error;
      loaded.diagnostics.add(std::move(d));
    }
  };
  set("flows_dir", options.flows_dir);
  set("data_dir", options.data_dir);
  set("nats.url", options.nats_url);
  set("log.level", options.log_level);
  print(loaded.diagnostics);
  if (loaded.diagnostics.has_errors()) return 1;
  auto& cfg = loaded.config;
  if (!log::setup_logging(cfg.log, &error)) {
    std::fprintf(stderr, "weir: logging: %s\n", error.c_str());
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) {
    spdlog::critical("cannot create data dir {}: {}", cfg.data_dir.string(), ec.message());
    return 1;
  }

  std::atomic<bool> stop{false};
  // A second signal during shutdown forces the exit (unacked work is redelivered later).
  std::thread signal_thread;
  auto wait_signal = [&] {
    int sig = 0;
    sigwait(&signals, &sig);
    return sig;
  };

  std::unique_ptr<bus::NatsServerProcess> embedded;
  std::string url = cfg.nats.url;
  if (url.empty()) {
    bus::NatsServerOptions o;
    o.binary = cfg.nats.embedded.binary;
    o.store_dir = (cfg.data_dir / "nats").string();
    o.port = cfg.nats.embedded.port;
    o.supervise = true;
    std::filesystem::create_directories(o.store_dir, ec);
    embedded = std::make_unique<bus::NatsServerProcess>(o);
    auto st = embedded->start();
    if (!st) {
      spdlog::critical("embedded nats-server did not start: {}", st.text());
      return 1;
    }
    url = embedded->url();
    spdlog::info("embedded nats-server on {} (store {})", url, o.store_dir);
  }

  bus::ConnectOptions co;
  co.url = url;
  co.user = cfg.nats.user;
  co.password = cfg.nats.password;
  co.token = cfg.nats.token;
  co.creds_file = cfg.nats.creds.string();
  co.name = "weir";
  // Connecting may take a while (a server still starting); a signal meanwhile stops it.
  signal_thread = std::thread([&] {
    wait_signal();
    stop = true;
  });
  auto conn = bus::Connection::connect(co, &stop);
  if (!conn) {
    spdlog::critical("cannot connect to NATS at {}: {}", url, conn.status().text());
    if (!stop) {
      // Unblock the signal thread so that it can be joined.
      kill(getpid(), SIGTERM);
    }
    signal_thread.join();
    return 1;
  }

  auto results = flow::load_flow_dir(cfg.flows_dir, registry::builtins(), ::getenv);
  std::vector<flow::Flow> flows;
  std::size_t broken = 0;
  for (auto& r : results) {
    for (const auto& d : r.diagnostics.items()) spdlog::error("{}", sdk::format(d));
    if (r.flow)
      flows.push_back(std::move(*r.flow));
    else
      ++broken;
  }
  if (results.empty()) spdlog::warn("no flow files in {}", cfg.flows_dir.string());

  auto engine = std::make_unique<runtime::Engine>(*conn.value(), cfg.data_dir);
  const auto total = flows.size();
  const auto running = engine->deploy(std::move(flows));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  spdlog::info("weir running: {}/{} flows up, {} invalid, {} ms after start, RSS {} KiB", running, total,
               broken, ms, rss_kib());

  signal_thread.join();  // until SIGTERM/SIGINT
  const auto first_signal = Clock::now();
  const auto drain = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.shutdown_timeout);
  spdlog::info("stopping: draining in-flight work (up to {} ms)", drain.count());
  std::thread force([&] {
    // One signal can arrive twice at once (sent to the process and to its group, as timeout(1)
    // and some supervisors do): only a signal a little later means "force".
    do wait_signal();
    while (Clock::now() - first_signal < std::chrono::milliseconds(500));
    spdlog::warn("second signal: exiting now; unacknowledged work is redelivered on the next start");
    std::_Exit(130);
  });
  force.detach();
  engine->stop(drain);
  engine.reset();  // components hold nats.c objects made from the connection
  conn.value().reset();
  if (embedded) (void)embedded->stop();
  spdlog::info("stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace weir::app
