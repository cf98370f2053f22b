#include "app/run.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "app/docs.hpp"
#include "bus/connection.hpp"
#include "bus/nats_server_process.hpp"
#include "config/engine_config.hpp"
#include "control/api.hpp"
#include "control/dir_watcher.hpp"
#include "control/flow_manager.hpp"
#include "control/metrics_page.hpp"
#include "core/sd_notify.hpp"
#include "flow/loader.hpp"
#include "http/server.hpp"
#include "log/flow_levels.hpp"
#include "log/redact.hpp"
#include "log/setup.hpp"
#include "metrics/process.hpp"
#include "registry/registry.hpp"
#include "runtime/engine.hpp"
#include "store/store.hpp"

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

void reload_log_level(const RunOptions& options) {
  auto loaded = config::load_engine_config_with_flags(options.config_file,
                                                      {{"log.level", "--log-level", &options.log_level}});
  if (loaded.diagnostics.has_errors()) {
    for (const auto& d : loaded.diagnostics.items()) spdlog::error("SIGHUP: {}", sdk::format(d));
    spdlog::error("SIGHUP: the engine config has errors; the log level stays {}",
                  spdlog::level::to_string_view(spdlog::default_logger()->level()));
    return;
  }
  const auto name = std::string(config::to_string(loaded.config.log.level));
  log::set_engine_level(loaded.config.log.level);
  spdlog::info("SIGHUP: log level {}", name);
}

}  // namespace

std::vector<config::FlagOverride> run_flags(const RunOptions& options) {
  return {{"flows_dir", "--flows", &options.flows_dir},
          {"data_dir", "--data-dir", &options.data_dir},
          {"nats.url", "--nats-url", &options.nats_url},
          {"log.level", "--log-level", &options.log_level},
          {"http.listen", "--http-listen", &options.http_listen}};
}

int run_engine(const RunOptions& options) {
  const auto started = Clock::now();
  const sigset_t signals = block_signals();

  auto loaded = config::load_engine_config_with_flags(options.config_file, run_flags(options));
  std::string error;
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
  co.store_dir = embedded ? (cfg.data_dir / "nats").string() : cfg.nats.store_dir.string();
  // Connecting may take a while (a server still starting); a signal meanwhile stops it.
  // SIGHUP re-reads the engine config's log level; SIGTERM or SIGINT stops.
  signal_thread = std::thread([&] {
    while (wait_signal() == SIGHUP) reload_log_level(options);
    stop = true;
  });
  auto conn = bus::Connection::connect(co, &stop);
  if (!conn) {
    spdlog::critical("cannot connect to NATS at {}: {}", log::redact_url(url), conn.status().text());
    if (!stop) {
      // Unblock the signal thread so that it can be joined.
      kill(getpid(), SIGTERM);
    }
    signal_thread.join();
    return 1;
  }

  // Components (nats_input, nats_output: a message per record on external subjects) get a
  // connection of their own that buffers writes (nats.c's flusher); the engine's batches, acks and
  // pull requests go out at once on the first one (send_asap).
  bus::ConnectOptions cco = co;
  cco.name = "weir-components";
  cco.send_asap = false;
  auto components_conn = bus::Connection::connect(cco, &stop);
  if (!components_conn)
    spdlog::warn("components share the engine's connection: a second one did not open: {}",
                 components_conn.status().text());

  std::unique_ptr<store::Store> db;
  {
    auto opened = store::Store::open(cfg.data_dir / "weir.db");
    if (opened)
      db = std::make_unique<store::Store>(std::move(opened).value());
    else
      spdlog::error("flow history is off: {}", opened.error());
  }
  const auto drain = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.shutdown_timeout);
  auto engine = std::make_unique<runtime::Engine>(*conn.value(), cfg.data_dir, std::chrono::seconds(5),
                                                  components_conn ? components_conn.value().get() : nullptr);
  control::FlowManager manager(cfg.flows_dir, *engine, db.get(), registry::builtins(), ::getenv, drain);
  manager.scan();
  control::DirWatcher watcher(cfg.flows_dir, [&] { manager.scan(); });
  if (!watcher.start(&error)) spdlog::warn("hot reload is off: cannot watch {}", error);

  control::MetricsPage metrics_page(*engine, *conn.value(), manager, WEIR_VERSION);
  control::ApiContext api_ctx;
  api_ctx.flows = &manager;
  api_ctx.engine = engine.get();
  api_ctx.conn = conn.value().get();
  api_ctx.store = db.get();
  api_ctx.version = WEIR_VERSION;
  api_ctx.token = cfg.http.token;
  api_ctx.started = started;
  api_ctx.metrics = [&] { return metrics_page.render(); };
  api_ctx.components_json = [] {
    boost::json::array all;
    for (const auto& info : registry::builtins().all()) all.push_back(component_json(info));
    return pretty_json(all);
  };
  control::Api api(api_ctx);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::unique_ptr<http::Server> server;
  int exit_code = 0;
  if (!cfg.http.listen.empty()) {
    http::ServerOptions so;
    so.listen = cfg.http.listen;
    server = std::make_unique<http::Server>(
        io, so, [&](const http::Request& r) { return api.handle(r); },
        [&](const http::Request& r) { return api.upgrade(r); });
    if (!server->start(&error)) {
      spdlog::critical(
          "HTTP API cannot listen on {}: {} (set http.listen, WEIR_HTTP_LISTEN or --http-listen to "
          "another address, or to \"\" to turn the API off)",
          cfg.http.listen, error);
      exit_code = 1;
      kill(getpid(), SIGTERM);  // stops as a signal would, after what started is drained
    } else {
      spdlog::info("HTTP API on {}{}", cfg.http.listen,
                   cfg.http.token.empty() ? " (read-only: no http.token set)" : "");
    }
  }
  std::thread io_thread([&] {
    runtime::name_thread("http");
    io.run();
  });

  std::size_t running = 0, total = 0, broken = 0;
  for (const auto& f : manager.files()) (f.errors.empty() ? total : broken)++;
  for (const auto& f : engine->status()) running += f.state == runtime::FlowState::running;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  spdlog::info("weir running: {}/{} flows up, {} invalid, {} ms after start, RSS {} KiB", running, total,
               broken, ms, metrics::read_process_stats().resident_memory_bytes.value_or(0) / 1024);
  // systemd (Type=notify): started once the flows are deployed; `weir health` tells the rest.
  if (!core::sd_notify(fmt::format("READY=1\nSTATUS={}/{} flows up, {} invalid", running, total, broken),
                       &error))
    spdlog::warn("sd_notify: {}", error);

  signal_thread.join();  // until SIGTERM/SIGINT
  const auto first_signal = Clock::now();
  spdlog::info("stopping: draining in-flight work (up to {} ms)", drain.count());
  core::sd_notify("STOPPING=1");
  // Detached, it outlives this function: it captures by value, and once the engine stopped
  // (`finished`, under `exit_mu`) a late signal does nothing, so it never logs into a logger
  // already shut down (a supervisor's SIGTERM during the exit crashed the engine that way).
  static std::mutex exit_mu;
  static bool finished = false;
  std::thread force([first_signal, signals] {
    // One signal can arrive twice at once (sent to the process and to its group, as timeout(1)
    // and some supervisors do): only a signal a little later means "force".
    int sig = 0;
    do sigwait(&signals, &sig);
    while (sig == SIGHUP || Clock::now() - first_signal < std::chrono::milliseconds(500));
    std::lock_guard lock(exit_mu);  // held until _Exit: the engine does not finish meanwhile
    if (finished) return;
    spdlog::warn("second signal: exiting now; unacknowledged work is redelivered on the next start");
    std::_Exit(130);
  });
  force.detach();
  watcher.stop();
  if (server) server->stop();
  work.reset();
  io.stop();
  io_thread.join();
  engine->stop(drain);
  engine.reset();  // components hold nats.c objects made from the connection
  if (components_conn) components_conn.value().reset();
  conn.value().reset();
  if (embedded) (void)embedded->stop();
  std::lock_guard lock(exit_mu);
  finished = true;
  spdlog::info(exit_code ? "stopped (failed to start)" : "stopped");
  spdlog::shutdown();
  return exit_code;
}

}  // namespace weir::app
