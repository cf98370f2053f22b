// file_input against its reference, side by side in one run: `cat FILE | a raw JetStream
// publisher` (nats.c through the bus's async publisher, lines grouped into messages of the
// flow's default batch size, 512 records, each message with an id, every PubAck waited for),
// and weir (a file_input flow reading the same file, from its first line, with a fresh
// nats-server and engine per run; done when the engine's /metrics counts every line out of the
// input, that is, every line stored in the flow's stream). Prints one JSON line per phase and one
// summary line with the ratio (weir / reference, median of the runs).
//
//   ninja -C build bench-file     (or: build/bench/file_bench --weir build/src/app/weir [--lines N] [--runs
//   K])
#include <cstdio>
#include <thread>

#include "bench_util.hpp"
#include "bus/connection.hpp"
#include "bus/nats_server_process.hpp"
#include "bus/publisher.hpp"
#include "bus/topology.hpp"
#include "http/client.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string me = "file_bench";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The records out of component `lines` in /metrics (0 when not there yet).
std::uint64_t lines_out(const std::string& api) {
  auto res = weir::http::request("GET", api, "/metrics");
  if (res.status != 200) return 0;
  std::uint64_t total = 0;
  std::size_t at = 0;
  while ((at = res.body.find("weir_records_out_total{", at)) != std::string::npos) {
    const auto eol = res.body.find('\n', at);
    const auto line = res.body.substr(at, eol - at);
    at = eol;
    if (line.find("component=\"lines\"") == std::string::npos ||
        line.find("port=\"error\"") != std::string::npos)
      continue;
    total += static_cast<std::uint64_t>(std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return total;
}

double run_weir(const std::string& weir, const fs::path& dir, const fs::path& file, std::uint64_t n,
                double& cpu) {
  auto server = weir::bench::start_nats(dir / "nats", me);
  weir::bench::EngineProcess engine(weir, dir / "engine", server->url());
  const std::string api = "127.0.0.1:" + std::to_string(weir::bench::free_port());
  engine.write_config(R"({"log": {"level": "warn"}, "http": {"listen": ")" + api + R"("}})");
  fs::create_directories(dir / "in");
  engine.write_flow("tail.json", R"({"name": "tail", "components": [
    {"id": "lines", "type": "file_input", "config": {"paths": [")" +
                                     (dir / "in").string() + R"(/*.ndjson"], "start_at": "beginning",
      "poll_interval": "10ms"}}]})");
  engine.start();
  const auto up = Clock::now() + 60s;
  while (weir::http::request("GET", api, "/ready").status != 200) {
    if (Clock::now() > up) weir::bench::die(me, "engine not ready:\n" + engine.log());
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(300ms);  // the input's first scan saw an empty folder
  const double cpu0 = weir::bench::process_cpu(engine.pid()) + weir::bench::process_cpu(server->pid());
  const auto t0 = Clock::now();
  fs::create_hard_link(file, dir / "in" / "data.ndjson");
  std::uint64_t got = 0;
  const auto deadline = Clock::now() + 600s;
  while ((got = lines_out(api)) < n && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  cpu = weir::bench::process_cpu(engine.pid()) + weir::bench::process_cpu(server->pid()) - cpu0;
  if (got < n)
    weir::bench::die(me, "weir took " + std::to_string(got) + " of " + std::to_string(n) + " lines");
  engine.terminate();
  return static_cast<double>(n) / secs;
}

double run_reference(const fs::path& dir, const fs::path& file, std::uint64_t n, double& cpu) {
  auto server = weir::bench::start_nats(dir / "nats", me);
  weir::bus::ConnectOptions co;
  co.url = server->url();
  auto conn = weir::bus::Connection::connect(co);
  if (!conn) weir::bench::die(me, "connect: " + conn.status().text());
  auto js = conn.value()->jetstream();
  weir::bus::StreamSpec spec;
  spec.name = "RAW";
  spec.subjects = {"raw.>"};
  if (auto r = weir::bus::ensure_stream(js->raw(), spec); !r)
    weir::bench::die(me, "stream: " + r.status().text());
  auto pub = weir::bus::AsyncPublisher::create(*conn.value());
  if (!pub) weir::bench::die(me, "publisher: " + pub.status().text());
  const double cpu0 = weir::bench::process_cpu(server->pid()) + weir::bench::process_cpu(getpid());
  const auto t0 = Clock::now();
  std::FILE* cat = ::popen(("cat '" + file.string() + "'").c_str(), "r");
  if (cat == nullptr) weir::bench::die(me, "cannot run cat");
  std::string batch, rest;
  std::vector<char> buf(64 * 1024);
  std::uint64_t lines = 0, messages = 0, in_batch = 0;
  auto publish = [&] {
    if (in_batch == 0) return;
    if (auto st = pub.value()->publish("raw.data", batch, "m" + std::to_string(messages++)); !st.ok())
      weir::bench::die(me, "publish: " + st.text());
    batch.clear();
    in_batch = 0;
  };
  std::size_t got = 0;
  while ((got = std::fread(buf.data(), 1, buf.size(), cat)) > 0) {
    rest.append(buf.data(), got);
    std::size_t start = 0, nl = 0;
    while ((nl = rest.find('\n', start)) != std::string::npos) {
      // The batch format of the flow's stream: "<id> <json>\n" per record.
      batch += "r" + std::to_string(lines++) + " ";
      batch.append(rest, start, nl + 1 - start);
      start = nl + 1;
      if (++in_batch == 512) publish();
    }
    rest.erase(0, start);
  }
  publish();
  ::pclose(cat);
  std::vector<weir::bus::PublishFailure> failures;
  if (auto st = pub.value()->wait_all(120s, failures); !st.ok() || !failures.empty())
    weir::bench::die(me, "reference publish failed");
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  cpu = weir::bench::process_cpu(server->pid()) + weir::bench::process_cpu(getpid()) - cpu0;
  if (lines != n) weir::bench::die(me, "the reference read " + std::to_string(lines) + " lines");
  return static_cast<double>(n) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::string weir;
  std::uint64_t n = 500000;
  int runs = 3;
  weir::bench::Args(me, "file_bench --weir PATH [--lines N] [--runs K]")
      .add("--weir", weir)
      .add("--lines", n)
      .add("--runs", runs)
      .parse(argc, argv);
  if (weir.empty()) weir::bench::die(me, "--weir PATH is required");
  const fs::path dir = weir::bench::scratch_dir("weir-file-bench", me);
  const auto file = dir / "lines.ndjson";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    for (std::uint64_t i = 0; i < n; ++i) std::fprintf(f, "%s\n", weir::bench::record(i).c_str());
    std::fclose(f);
  }
  std::vector<double> weir_rate, ref_rate, ratio;
  for (int run = 1; run <= runs; ++run) {
    double wcpu = 0, rcpu = 0;
    const double w = run_weir(weir, dir / ("weir-" + std::to_string(run)), file, n, wcpu);
    std::printf("{\"phase\":\"weir\",\"run\":%d,\"lines_per_s\":%.0f,\"cpu_s\":%.2f}\n", run, w, wcpu);
    const double r = run_reference(dir / ("ref-" + std::to_string(run)), file, n, rcpu);
    std::printf("{\"phase\":\"cat_raw_jetstream\",\"run\":%d,\"lines_per_s\":%.0f,\"cpu_s\":%.2f}\n", run, r,
                rcpu);
    std::fflush(stdout);
    weir_rate.push_back(w);
    ref_rate.push_back(r);
    ratio.push_back(w / r);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::printf(
      "{\"bench\":\"file_input\",\"runs\":%d,\"lines\":%llu,\"line_bytes\":128,\"weir_lines_per_s\":%.0f,"
      "\"cat_raw_jetstream_lines_per_s\":%.0f,\"ratio\":%.3f}\n",
      runs, static_cast<unsigned long long>(n), median(weir_rate), median(ref_rate), median(ratio));
  return 0;
}
