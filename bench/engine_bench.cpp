// The foundation benchmark, in one run on one machine (ratios, not absolute times):
//  1. the raw nats.c baseline: async publish + acked fetch of N messages through one stream;
//  2. the weir engine on nats_input → json_filter → json_map → nats_output with 128-byte JSON
//     records: from the first source publish until the last record is stored in the output
//     stream (so both figures include putting the records into JetStream);
// and prints one JSON object: msgs/s of both, their ratio, and the engine's peak RSS.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "bench_util.hpp"
#include "bus/connection.hpp"
#include "bus/nats_server_process.hpp"
#include "bus/publisher.hpp"
#include "bus/topology.hpp"
#include "raw_jetstream.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using weir::bench::process_cpu;
using weir::bench::record;
using weir::bench::slurp;
using weir::bench::status_kib;
using weir::bench::thread_cpu;

namespace {

[[noreturn]] void die(const std::string& what) {
  weir::bench::die("engine_bench", what);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 200000;
  std::string weir = "weir";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--records" && i + 1 < argc)
      n = std::stoull(argv[++i]);
    else if (a == "--weir" && i + 1 < argc)
      weir = argv[++i];
    else
      die("usage: engine_bench [--records N] [--weir PATH]");
  }
  const fs::path dir = weir::bench::scratch_dir("weir-bench", "engine_bench");
  const auto server_owner = weir::bench::start_nats(dir / "nats", "engine_bench");
  auto& server = *server_owner;
  const auto url = server.url();

  // 1. The reference: one raw JetStream hop.
  const double server_cpu0 = process_cpu(server.pid());
  const auto raw_t0 = Clock::now();
  auto raw = weir::bench::run_raw_jetstream(url, n, 128);
  const double raw_wall = std::chrono::duration<double>(Clock::now() - raw_t0).count();
  const double raw_server_cpu = process_cpu(server.pid()) - server_cpu0;

  // 2. The engine.
  weir::bus::ConnectOptions co;
  co.url = url;
  auto conn = weir::bus::Connection::connect(co);
  if (!conn) die("connect: " + conn.status().text());
  auto js = conn.value()->jetstream();
  weir::bench::create_pipeline_streams(js->raw(), "engine_bench");
  fs::create_directories(dir / "flows");
  std::ofstream(dir / "flows/bench.json") << weir::bench::pipeline_flow();
  std::ofstream(dir / "weir.json") << R"({"log": {"level": "warn"}})";
  const auto log = dir / "engine.log";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    // WEIR_BENCH_WRAP runs the engine under a profiler (heaptrack, valgrind, perf record).
    if (const char* wrap = std::getenv("WEIR_BENCH_WRAP"))
      execlp(wrap, wrap, weir.c_str(), "run", "--config", (dir / "weir.json").c_str(), "--nats-url",
             url.c_str(), "--flows", (dir / "flows").c_str(), "--data-dir", (dir / "data").c_str(),
             "--log-level", "info", static_cast<char*>(nullptr));
    execlp(weir.c_str(), weir.c_str(), "run", "--config", (dir / "weir.json").c_str(), "--nats-url",
           url.c_str(), "--flows", (dir / "flows").c_str(), "--data-dir", (dir / "data").c_str(),
           "--log-level", "info", static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = Clock::now() + 30s;
  while (slurp(log).find("flows up") == std::string::npos) {
    if (Clock::now() > deadline) die("engine did not start: " + slurp(log));
    std::this_thread::sleep_for(10ms);
  }
  const long idle_rss = status_kib(pid, "VmRSS:");

  auto pub = weir::bus::AsyncPublisher::create(*conn.value());
  const double server_cpu1 = process_cpu(server.pid());
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i)
    if (auto st = pub.value()->publish("src.data", record(i), "b" + std::to_string(i)); !st.ok())
      die("publish: " + st.text());
  std::vector<weir::bus::PublishFailure> failures;
  if (auto st = pub.value()->wait_all(60s, failures); !st.ok() || !failures.empty())
    die("source publish failed");
  std::uint64_t stored = 0;
  const auto end_deadline = Clock::now() + 600s;
  while (stored < n && Clock::now() < end_deadline) {
    auto info = weir::bus::stream_info(js->raw(), "OUT");
    stored = info ? info->messages : 0;
    if (stored < n) std::this_thread::sleep_for(5ms);
  }
  const auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const long peak_rss = status_kib(pid, "VmHWM:");
  const auto threads = thread_cpu(pid);
  const double engine_server_cpu = process_cpu(server.pid()) - server_cpu1;
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  if (stored < n) die("the engine delivered " + std::to_string(stored) + " of " + std::to_string(n));

  const double engine = static_cast<double>(n) / secs;
  std::printf(
      "{\"bench\":\"engine_pipeline\",\"records\":%llu,\"record_bytes\":128,"
      "\"raw_publish_msgs_per_s\":%.0f,\"raw_fetch_msgs_per_s\":%.0f,\"raw_one_hop_msgs_per_s\":%.0f,"
      "\"engine_msgs_per_s\":%.0f,\"ratio\":%.3f,\"engine_idle_rss_kib\":%ld,\"engine_peak_rss_kib\":%ld,"
      "\"engine_thread_cpu_s\":%s,\"nats_server_cpu_share_raw\":%.2f,\"nats_server_cpu_share_engine\":%.2f}"
      "\n",
      static_cast<unsigned long long>(n), raw.publish_msgs_per_s, raw.fetch_msgs_per_s,
      raw.one_hop_msgs_per_s, engine, engine / raw.one_hop_msgs_per_s, idle_rss, peak_rss, threads.c_str(),
      raw_server_cpu / raw_wall, engine_server_cpu / secs);
  pub.value().reset();
  js = weir::bus::Result<weir::bus::JetStream>(weir::bus::Status::error("done"));
  conn.value().reset();
  (void)server.stop();
  fs::remove_all(dir);
  return 0;
}
