#include "ws_baseline.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench_util.hpp"
#include "common/websocket/link.hpp"

namespace weir::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Waits until pred() holds or the deadline passes. Sleeps rather than spins: the two io threads
// need the cores.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20us);
  }
  return true;
}

std::unique_ptr<ws::Endpoint> make(ws::EndpointOptions o, ws::Handlers h) {
  std::string error;
  auto ep = ws::Endpoint::create(std::move(o), std::move(h), error);
  if (!ep || !ep->start(error)) throw std::runtime_error("ws_baseline: " + error);
  return ep;
}

}  // namespace

WsResult run_ws_baseline(std::uint64_t n, std::size_t batch, std::size_t window) {
  batch = std::max<std::size_t>(batch, 1);
  // Written on the server's io thread, read by the sender.
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<bool> server_open{false};
  std::atomic<ws::ConnId> client_conn{0};

  ws::EndpointOptions so;
  so.mode = ws::EndpointOptions::Mode::listen;
  so.listen = "127.0.0.1:0";
  so.max_frame_size = 16 * 1024 * 1024;
  ws::Handlers sh;
  sh.on_open = [&](ws::ConnId, bool, const std::string&) { server_open = true; };
  sh.on_message = [&](ws::ConnId, std::string&& m, bool) {
    // A batch: its records are the lines after the header line.
    const auto lines = batch == 1 ? 1 : static_cast<std::uint64_t>(std::count(m.begin(), m.end(), '\n')) - 1;
    frames_in.fetch_add(1, std::memory_order_relaxed);
    received.fetch_add(lines, std::memory_order_release);
  };
  auto server = make(so, std::move(sh));

  ws::EndpointOptions co;
  co.mode = ws::EndpointOptions::Mode::connect;
  co.url = "ws://127.0.0.1:" + std::to_string(server->port()) + "/";
  co.offer_bridge = false;
  co.max_frame_size = so.max_frame_size;
  ws::Handlers ch;
  ch.on_open = [&](ws::ConnId c, bool, const std::string&) { client_conn = c; };
  auto client = make(co, std::move(ch));
  if (!wait_for([&] { return client_conn.load() != 0 && server_open.load(); }, 10s)) {
    client->stop();
    server->stop();
    throw std::runtime_error("ws_baseline: the endpoints did not connect");
  }
  const ws::ConnId conn = client_conn.load();

  std::uint64_t frames = 0;
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n;) {
    std::string msg;
    if (batch == 1) {
      msg = record(i++);
    } else {
      const auto k = std::min<std::uint64_t>(batch, n - i);
      msg = R"({"type":"data","seq":)" + std::to_string(frames + 1) + R"(,"records":)" + std::to_string(k) +
            "}\n";
      msg.reserve(msg.size() + k * 150);
      for (std::uint64_t j = 0; j < k; ++j, ++i)
        msg += "site-a/SRC:" + std::to_string(i) + " " + record(i) + "\n";
    }
    while (frames - frames_in.load(std::memory_order_relaxed) >= window) std::this_thread::sleep_for(20us);
    client->send(conn, std::move(msg), true);
    ++frames;
  }
  const bool all = wait_for([&] { return received.load(std::memory_order_acquire) >= n; }, 60s);
  const auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
  client->stop();
  server->stop();
  if (!all || received.load() != n)
    throw std::runtime_error("ws_baseline: received " + std::to_string(received.load()) + " of " +
                             std::to_string(n));
  return {static_cast<double>(n) / secs, static_cast<std::size_t>(frames)};
}

}  // namespace weir::bench
