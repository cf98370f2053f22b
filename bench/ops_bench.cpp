// What operating the engine costs the flow, in one run on one machine (ratios, not absolute
// times): the foundation benchmark's pipeline (nats_input → json_filter → json_map →
// nats_output, 128-byte records) on one engine, in rounds of three phases:
//  - plain:  nothing else;
//  - scrape: GET /metrics every 100 ms for the whole phase;
//  - tap:    a tap WebSocket on the filter's output whose client never reads (stalled).
// The phases are interleaved, their order rotating from round to round, so that machine noise
// and anything that drifts over the run hit them alike (each phase also starts on empty streams); the median
// of each is compared with the median of plain. One JSON object out.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "bus/connection.hpp"
#include "bus/nats_server_process.hpp"
#include "bus/publisher.hpp"
#include "bus/topology.hpp"
#include "http/client.hpp"
#include "support/stalled_websocket.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  weir::bench::die("ops_bench", what);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 200000;
  int rounds = 3;
  std::string weir = "weir";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--records" && i + 1 < argc)
      n = std::stoull(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc)
      rounds = std::stoi(argv[++i]);
    else if (a == "--weir" && i + 1 < argc)
      weir = argv[++i];
    else
      die("usage: ops_bench [--records N per phase] [--rounds R] [--weir PATH]");
  }
  const fs::path dir = weir::bench::scratch_dir("weir-ops-bench", "ops_bench");
  const auto server_owner = weir::bench::start_nats(dir / "nats", "ops_bench");
  auto& server = *server_owner;
  weir::bus::ConnectOptions co;
  co.url = server.url();
  auto conn = weir::bus::Connection::connect(co);
  if (!conn) die("connect: " + conn.status().text());
  auto js = conn.value()->jetstream();
  weir::bench::create_pipeline_streams(js->raw(), "ops_bench");

  const auto http_port = weir::bench::free_port();
  const std::string api = "127.0.0.1:" + std::to_string(http_port);
  weir::bench::EngineProcess engine(weir, dir / "engine", server.url());
  engine.write_config(R"({"log": {"level": "warn"}, "http": {"listen": ")" + api + R"("}})");
  engine.write_flow("bench.json", weir::bench::pipeline_flow());
  engine.start();
  const auto up_deadline = Clock::now() + 30s;
  while (weir::http::request("GET", api, "/ready").status != 200) {
    if (Clock::now() > up_deadline) die("engine not ready: " + engine.log());
    std::this_thread::sleep_for(50ms);
  }

  auto pub = weir::bus::AsyncPublisher::create(*conn.value());
  std::uint64_t next = 0;
  // One phase: n records published and waited for in OUT; returns records/s.
  auto phase = [&]() {
    // Every phase starts on empty streams (the previous phase is wholly delivered and acked).
    for (const char* stream : {"SRC", "OUT"})
      if (auto st = weir::bus::purge_stream(js->raw(), stream, {}, 0); !st.ok()) die("purge: " + st.text());
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < n; ++i, ++next)
      if (auto st = pub.value()->publish("src.data", weir::bench::record(next), "b" + std::to_string(next));
          !st.ok())
        die("publish: " + st.text());
    std::vector<weir::bus::PublishFailure> failures;
    if (auto st = pub.value()->wait_all(60s, failures); !st.ok() || !failures.empty())
      die("source publish failed");
    std::uint64_t stored = 0;
    const auto deadline = Clock::now() + 600s;
    while (stored < n && Clock::now() < deadline) {
      auto info = weir::bus::stream_info(js->raw(), "OUT");
      stored = info ? info->messages : 0;
      if (stored < n) std::this_thread::sleep_for(5ms);
    }
    if (stored < n) die("the engine delivered " + std::to_string(stored) + " of " + std::to_string(n));
    return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
  };

  phase();  // warm-up: consumers bound, caches hot
  std::vector<double> plain, scraped, tapped;
  std::uint64_t scrapes = 0, scrape_failures = 0;
  std::size_t page_bytes = 0;
  auto run_plain = [&] { plain.push_back(phase()); };
  auto run_scraped = [&] {
    std::atomic<bool> done{false};
    std::thread scraper([&] {
      while (!done) {
        auto res = weir::http::request("GET", api, "/metrics");
        ++scrapes;
        if (res.status != 200) ++scrape_failures;
        page_bytes = res.body.size();
        std::this_thread::sleep_for(100ms);
      }
    });
    scraped.push_back(phase());
    done = true;
    scraper.join();
  };
  auto run_tapped = [&] {
    std::string error;
    const int fd = weir::testing::open_stalled_websocket(http_port, "/api/v1/flows/bench/tap/keep", &error);
    if (fd < 0) die("tap: " + error);
    tapped.push_back(phase());
    ::close(fd);
  };
  // The order rotates from round to round, so that no kind of phase is always the last.
  const std::vector<std::function<void()>> phases{run_plain, run_scraped, run_tapped};
  for (int r = 0; r < rounds; ++r)
    for (std::size_t i = 0; i < phases.size(); ++i)
      phases[(static_cast<std::size_t>(r) + i) % phases.size()]();
  const auto rss = weir::bench::status_kib(engine.pid(), "VmHWM:");
  engine.terminate();

  const double p = median(plain), s = median(scraped), t = median(tapped);
  auto list = [](const std::vector<double>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
      out += (i ? "," : "") + std::to_string(static_cast<long>(v[i]));
    return out + "]";
  };
  std::printf(
      "{\"bench\":\"engine_ops\",\"records_per_phase\":%llu,\"rounds\":%d,"
      "\"plain_msgs_per_s\":%.0f,\"scrape_100ms_msgs_per_s\":%.0f,\"stalled_tap_msgs_per_s\":%.0f,"
      "\"scrape_ratio\":%.3f,\"stalled_tap_ratio\":%.3f,\"scrapes\":%llu,\"scrape_failures\":%llu,"
      "\"metrics_page_bytes\":%zu,\"engine_peak_rss_kib\":%ld,"
      "\"plain_runs\":%s,\"scrape_runs\":%s,\"tap_runs\":%s}\n",
      static_cast<unsigned long long>(n), rounds, p, s, t, s / p, t / p,
      static_cast<unsigned long long>(scrapes), static_cast<unsigned long long>(scrape_failures), page_bytes,
      rss, list(plain).c_str(), list(scraped).c_str(), list(tapped).c_str());
  pub.value().reset();
  js = weir::bus::Result<weir::bus::JetStream>(weir::bus::Status::error("done"));
  conn.value().reset();
  (void)server.stop();
  fs::remove_all(dir);
  return scrape_failures == 0 ? 0 : 1;
}
