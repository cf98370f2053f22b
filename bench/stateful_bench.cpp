// What a stateful stage costs, in one run on one machine (ratios, not absolute times):
//  - reference: nats_input → json_filter (`true`) → nats_output;
//  - window:    nats_input → window (tumbling 1 s, 10,000 keys, avg + max, event time) → nats_output;
// the same 128-byte records, put into the source stream before the engine starts, through the
// same real engine and nats-server. The rate is the processor's own (records in per second while
// it went from 10 % to 90 % of the records, read from the engine's API), so the input and the
// output stages, the same in both flows, do not hide it. Each flow runs `--rounds` times,
// alternating; the best round of each counts. Also printed: the window's state memory per key
// (its own estimate, and the engine's RSS against the reference's, both at 90 %), the CPU time of
// each processor's stage thread per record (what the rate cannot show when the input stage is
// the slower one), and the cost of durable state: snapshots stored, their size, and the share of
// the window's time spent saving and storing them.
//
// Prints one JSON object. `ninja -C build bench-stateful`.
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
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

[[noreturn]] void die(const std::string& what) {
  weir::bench::die("stateful_bench", what);
}

constexpr std::uint64_t keys = 10000;

std::string flow(bool window) {
  const std::string processor =
      window ? R"x({ "id": "p", "type": "window", "inputs": ["src"], "config": {
        "kind": "tumbling", "size": "1s", "time": "div(seq, 20)", "group_by": {"key": "seq % 10000"},
        "aggregates": {"avg": {"fn": "avg", "of": "value"}, "max": {"fn": "max", "of": "value"}} } })x"
             : R"({ "id": "p", "type": "json_filter", "inputs": ["src"], "config": { "where": "true" } })";
  return R"({ "name": "bench", "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC" } },
    )" + processor +
         R"(,
    { "id": "sink", "type": "nats_output", "inputs": ["p"], "config": { "subject": "out.data" } } ] })";
}

struct Run {
  double records_per_s = 0;
  long rss_kib = 0;  // at 90 %
  double snapshots = 0, snapshot_bytes = 0, state_bytes = 0, state_keys = 0;
  double snapshot_seconds = 0;  // saving and storing snapshots, from 10 % to 90 %
  double seconds = 0;           // from 10 % to 90 %
  double processor_cpu_s = 0;   // the processor stage's thread(s), the whole run
};

boost::json::object processor(const std::string& api) {
  auto res = weir::http::request("GET", api, "/api/v1/flows/bench");
  if (res.status != 200) return {};
  boost::system::error_code ec;
  auto v = boost::json::parse(res.body, ec);
  if (ec || !v.is_object()) return {};
  for (const auto& c : v.as_object().at("components").as_array())
    if (c.as_object().at("id").as_string() == "p") return c.as_object();
  return {};
}

double metric(const boost::json::object& p, const char* name) {
  auto it = p.find("metrics");
  if (it == p.end()) return 0;
  auto m = it->value().as_object().find(name);
  return m == it->value().as_object().end() ? 0 : m->value().to_number<double>();
}

Run run(const std::string& weir, const fs::path& dir, const std::string& url, bool window, std::uint64_t n) {
  weir::bus::ConnectOptions co;
  co.url = url;
  auto conn = weir::bus::Connection::connect(co);
  if (!conn) die("connect: " + conn.status().text());
  auto js = conn.value()->jetstream();
  // Each round starts from nothing: its own streams and its own flow state.
  for (const char* s : {"SRC", "OUT", "WEIR_BENCH", "WEIR_POS_BENCH", "WEIR_DLQ_BENCH"})
    (void)weir::bus::delete_stream(js->raw(), s);
  weir::bench::create_pipeline_streams(js->raw(), "stateful_bench");
  auto pub = weir::bus::AsyncPublisher::create(*conn.value());
  for (std::uint64_t i = 0; i < n; ++i)
    if (auto st = pub.value()->publish("src.data", weir::bench::record(i), "b" + std::to_string(i)); !st.ok())
      die("publish: " + st.text());
  std::vector<weir::bus::PublishFailure> failures;
  if (auto st = pub.value()->wait_all(120s, failures); !st.ok() || !failures.empty())
    die("source publish failed");

  fs::remove_all(dir);
  weir::bench::EngineProcess engine(weir, dir, url);
  const std::string api = "127.0.0.1:" + std::to_string(weir::bench::free_port());
  engine.write_config(R"({"log": {"level": "warn"}, "http": {"listen": ")" + api + R"("}})");
  engine.write_flow("bench.json", flow(window));
  engine.start();
  Run r;
  Clock::time_point t10{}, t90{};
  double snap10 = 0, snap90 = 0;
  const auto deadline = Clock::now() + 600s;
  while (Clock::now() < deadline) {
    auto p = processor(api);
    const auto in = p.empty() ? 0 : p.at("records_in").to_number<std::uint64_t>();
    const auto now = Clock::now();
    if (t10 == Clock::time_point{} && in >= n / 10) {
      t10 = now;
      snap10 = metric(p, "state_snapshot_seconds");
    }
    if (in >= n * 9 / 10) {
      t90 = now;
      snap90 = metric(p, "state_snapshot_seconds");
      // State and memory while the windows of 10,000 keys are open.
      r.state_bytes = metric(p, "state_bytes");
      r.state_keys = metric(p, "state_keys");
      r.rss_kib = weir::bench::status_kib(engine.pid(), "VmRSS:");
      r.snapshot_bytes = metric(p, "state_snapshot_bytes");
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (t90 == Clock::time_point{}) die("the processor did not get through the records: " + engine.log());
  r.seconds = std::chrono::duration<double>(t90 - t10).count();
  r.records_per_s = static_cast<double>(n * 8 / 10) / r.seconds;
  r.snapshot_seconds = snap90 - snap10;
  // Let the processor finish, then read what its thread cost and what it stored.
  std::this_thread::sleep_for(3s);
  auto p = processor(api);
  r.snapshots = metric(p, "state_snapshots");
  auto threads = boost::json::parse(weir::bench::thread_cpu(engine.pid())).as_object();
  for (const auto& [name, secs] : threads)
    if (name == "st:p" || name == "sf:p") r.processor_cpu_s += secs.to_number<double>();
  engine.terminate();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 400000;
  int rounds = 2;
  std::string weir = "weir";
  weir::bench::Args("stateful_bench", "stateful_bench [--records N] [--rounds N] [--weir PATH]")
      .add("--records", n)
      .add("--rounds", rounds)
      .add("--weir", weir)
      .parse(argc, argv);
  const fs::path dir = weir::bench::scratch_dir("weir-bench", "stateful_bench");
  const auto server = weir::bench::start_nats(dir / "nats", "stateful_bench");
  Run ref, win;
  for (int k = 0; k < rounds; ++k) {
    auto a = run(weir, dir / "engine", server->url(), false, n);
    if (a.records_per_s > ref.records_per_s) ref = a;
    auto b = run(weir, dir / "engine", server->url(), true, n);
    if (b.records_per_s > win.records_per_s) win = b;
  }
  // During the window's 10..90 % span, saving and storing snapshots took this share of its
  // stage's time (they run on the stage's thread: what durable state costs, bar the held acks).
  const double snapshot_share = win.snapshot_seconds / win.seconds;
  std::printf(
      "{\"bench\":\"stateful\",\"records\":%llu,\"keys\":%llu,\"record_bytes\":128,"
      "\"json_filter_records_per_s\":%.0f,\"window_records_per_s\":%.0f,\"ratio\":%.3f,"
      "\"window_state_keys\":%.0f,\"window_state_bytes_per_key\":%.1f,\"rss_kib_json_filter\":%ld,"
      "\"rss_kib_window\":%ld,\"rss_bytes_per_key\":%.1f,\"snapshots\":%.0f,\"snapshot_bytes\":%.0f,"
      "\"snapshot_seconds\":%.3f,\"snapshot_time_share\":%.3f,\"json_filter_stage_cpu_us_per_record\":%.2f,"
      "\"window_stage_cpu_us_per_record\":%.2f}\n",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(keys), ref.records_per_s,
      win.records_per_s, win.records_per_s / ref.records_per_s, win.state_keys,
      win.state_keys > 0 ? win.state_bytes / win.state_keys : 0.0, ref.rss_kib, win.rss_kib,
      static_cast<double>(win.rss_kib - ref.rss_kib) * 1024.0 / static_cast<double>(keys), win.snapshots,
      win.snapshot_bytes, win.snapshot_seconds, snapshot_share,
      ref.processor_cpu_s * 1e6 / static_cast<double>(n), win.processor_cpu_s * 1e6 / static_cast<double>(n));
  fs::remove_all(dir);
  return 0;
}
