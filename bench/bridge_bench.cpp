// The site bridge benchmark, in one run on one machine (ratios, not absolute times):
//  1. the raw nats.c baseline of one JetStream hop (raw_jetstream) with 128-byte JSON records;
//  2. the raw WebSocket baseline: two ws::Endpoints on loopback, one record per message, and
//     batched like a bridge data frame;
//  3. the bridge: site A (its own nats-server and engine: nats_input SRC → websocket_output)
//     and a hub (its own nats-server and engine: websocket_input → nats_output OUT). N records
//     wait in SRC; from the first delivery out of SRC until OUT holds all N;
//  4. end-to-end latency through the same engines at a fixed rate;
//  5. the cost of the hub's durability "sync" (an fsync of its stream's files before each
//     acknowledgement, group commit) against "none": the run of 3 again, alternating the two
//     settings for a few rounds, at full speed and at the fixed rate;
// and prints one JSON object. The targets of the bridge issue are printed, not asserted.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "bridge_latency.hpp"
#include "bus/connection.hpp"
#include "bus/nats_server_process.hpp"
#include "bus/publisher.hpp"
#include "bus/topology.hpp"
#include "raw_jetstream.hpp"
#include "ws_baseline.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using weir::bench::die;

namespace {

constexpr const char* me = "bridge_bench";
constexpr const char* token = "bench-token";

struct Options {
  std::uint64_t records = 200000;
  std::string weir = "weir";
  double rate = 5000;
  int latency_secs = 10;
  std::uint64_t ws_batch = 512;   // records per frame of the batched WebSocket baseline
  std::string a_settings = "{}";  // `settings` of site A's flow (batch_records, publish_window...)
  std::string hub_settings = "{}";
  int window = 32;                  // websocket_output / websocket_input `window`
  bool hops = false;                // time the intermediate hops of the latency run too (diagnosis)
  std::string durability = "sync";  // the hub websocket_input's durability in 3 and 4
  int durability_rounds = 3;        // 5: rounds of none then sync (0: skip)
  std::uint64_t durability_records = 100000;
};

Options parse(int argc, char** argv) {
  Options o;
  weir::bench::Args(me,
                    "bridge_bench [--records N] [--weir PATH] [--rate MSGS_PER_S] [--latency-secs S] "
                    "[--ws-batch N] [--site-a-settings JSON] [--hub-settings JSON] [--window N] [--hops] "
                    "[--durability sync|none] [--durability-rounds N] [--durability-records N]")
      .add("--records", o.records)
      .add("--weir", o.weir)
      .add("--rate", o.rate)
      .add("--latency-secs", o.latency_secs)
      .add("--ws-batch", o.ws_batch)
      .add("--site-a-settings", o.a_settings)
      .add("--hub-settings", o.hub_settings)
      .add("--window", o.window)
      .add("--hops", o.hops)
      .add("--durability", o.durability)
      .add("--durability-rounds", o.durability_rounds)
      .add("--durability-records", o.durability_records)
      .parse(argc, argv);
  if (o.records == 0 || o.rate <= 0 || o.latency_secs <= 0 || o.window < 1 || o.durability_rounds < 0 ||
      o.durability_records == 0 || (o.durability != "sync" && o.durability != "none"))
    die(me, "bad option value");
  return o;
}

// One site: a nats-server with its own store and a client connection to it.
struct Site {
  std::unique_ptr<weir::bus::NatsServerProcess> server;
  std::unique_ptr<weir::bus::Connection> conn;
  weir::bus::JetStream js;

  explicit Site(const fs::path& store) {
    server = weir::bench::start_nats(store, me);
    weir::bus::ConnectOptions co;
    co.url = server->url();
    auto c = weir::bus::Connection::connect(co);
    if (!c) die(me, "connect: " + c.status().text());
    conn = std::move(c.value());
    auto j = conn->jetstream();
    if (!j) die(me, "jetstream: " + j.status().text());
    js = std::move(j.value());
  }
  ~Site() {
    js = weir::bus::JetStream();
    conn.reset();
    (void)server->stop();
  }

  void stream(const std::string& name, const std::string& subjects) {
    weir::bus::StreamSpec s;
    s.name = name;
    s.subjects = {subjects};
    s.retention = weir::bus::Retention::limits;
    if (auto r = weir::bus::ensure_stream(js.raw(), s); !r)
      die(me, "stream " + name + ": " + r.status().text());
  }
  std::uint64_t messages(const std::string& stream) {
    auto info = weir::bus::stream_info(js.raw(), stream);
    return info ? info->messages : 0;
  }
  // Stream sequence delivered so far by the stream's (only) consumer; 0 when none yet.
  std::uint64_t delivered(const std::string& stream) {
    auto names = weir::bus::consumer_names(js.raw(), stream);
    if (!names || names->empty()) return 0;
    auto c = weir::bus::consumer_info(js.raw(), stream, names->front());
    return c ? c->delivered_stream_seq : 0;
  }
};

std::string uplink_flow(const Options& o, std::uint16_t port) {
  return R"({ "version": 1, "name": "uplink", "settings": )" + o.a_settings + R"(,
  "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC" } },
    { "id": "link", "type": "websocket_output", "inputs": ["src"],
      "config": { "mode": "connect", "url": "ws://127.0.0.1:)" +
         std::to_string(port) + R"(/", "token": ")" + token + R"(", "site": "site-a", "window": )" +
         std::to_string(o.window) + R"( } } ] })";
}

std::string hub_flow(const Options& o, std::uint16_t port, const std::string& durability) {
  return R"({ "version": 1, "name": "hub", "settings": )" + o.hub_settings + R"(,
  "components": [
    { "id": "from_sites", "type": "websocket_input",
      "config": { "mode": "listen", "listen": "127.0.0.1:)" +
         std::to_string(port) + R"(", "token": ")" + token + R"(", "site": "hub", "window": )" +
         std::to_string(o.window) + R"(, "durability": ")" + durability + R"(" } },
    { "id": "sink", "type": "nats_output", "inputs": ["from_sites"], "config": { "subject": "out.data" } } ] })";
}

// CPU seconds of the four processes of the bridge and the machine's CPU pressure, so that a
// phase can report each one's share of a core and how much the machine made them wait.
struct CpuSnapshot {
  double cpu[5] = {};  // the four, then this benchmark itself
  std::uint64_t pressure_us = 0;
  Clock::time_point at;

  static CpuSnapshot take(const pid_t (&pids)[4]) {
    CpuSnapshot s;
    for (int i = 0; i < 4; ++i) s.cpu[i] = weir::bench::process_cpu(pids[i]);
    s.cpu[4] = weir::bench::process_cpu(getpid());
    s.pressure_us = weir::bench::cpu_pressure_us();
    s.at = Clock::now();
    return s;
  }
  // {"nats_a":..,"nats_hub":..,"site_a":..,"hub":..,"bench":..,"machine_cpu_pressure":..} since `before`.
  std::string share_since(const CpuSnapshot& before) const;
};

double mib(long kib) {
  return static_cast<double>(kib) / 1024.0;
}

std::string num(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string json_list(const std::vector<double>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + num("%.0f", v[i]);
  return out + "]";
}

std::string CpuSnapshot::share_since(const CpuSnapshot& before) const {
  const double secs = std::chrono::duration<double>(at - before.at).count();
  const char* names[] = {"nats_a", "nats_hub", "site_a", "hub", "bench"};
  std::string out = "{";
  for (int i = 0; i < 5; ++i)
    out += "\"" + std::string(names[i]) + "\":" + num("%.2f", (cpu[i] - before.cpu[i]) / secs) + ",";
  return out + "\"machine_cpu_pressure\":" +
         num("%.2f", static_cast<double>(pressure_us - before.pressure_us) / 1e6 / secs) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  // stdout carries the one JSON object; the bus's log lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("bridge_bench"));
  const Options opt = parse(argc, argv);
  const std::uint64_t n = opt.records;
  const fs::path dir = weir::bench::scratch_dir("weir-bridge-bench", me);
  std::string json = R"({"bench":"bridge","records":)" + std::to_string(n) + R"(,"record_bytes":128)";
  auto add = [&json](const std::string& key, const std::string& value) {
    json += ",\"" + key + "\":" + value;
  };
  {
    Site a(dir / "a-nats"), hub(dir / "hub-nats");

    // 1. One raw JetStream hop, on site A's server.
    auto raw = weir::bench::run_raw_jetstream(a.server->url(), n,
                                              [](std::size_t i) { return weir::bench::record(i); });
    add("jetstream_baseline_msgs_per_s", num("%.0f", raw.one_hop_msgs_per_s));
    add("jetstream_publish_msgs_per_s", num("%.0f", raw.publish_msgs_per_s));
    add("jetstream_fetch_msgs_per_s", num("%.0f", raw.fetch_msgs_per_s));

    // 2. Raw WebSocket on loopback.
    try {
      auto single = weir::bench::run_ws_baseline(n, 1, 8192);
      auto batched = weir::bench::run_ws_baseline(n, opt.ws_batch, static_cast<std::size_t>(opt.window));
      add("websocket_baseline_msgs_per_s", num("%.0f", single.msgs_per_s));
      add("websocket_batched_baseline_msgs_per_s", num("%.0f", batched.msgs_per_s));
      add("websocket_batched_records_per_frame", std::to_string(opt.ws_batch));
    } catch (const std::exception& e) {
      die(me, e.what());
    }

    // 3. The bridge. First both engines idle with the link up (idle RSS), then site A stops,
    // the N records go into SRC, and site A starts again to deliver them.
    a.stream("SRC", "src.>");
    hub.stream("OUT", "out.>");
    const std::uint16_t port = weir::bench::free_port();
    weir::bench::EngineProcess site_a(opt.weir, dir / "a", a.server->url());
    weir::bench::EngineProcess hub_engine(opt.weir, dir / "hub", hub.server->url());
    site_a.write_flow("uplink.json", uplink_flow(opt, port));
    hub_engine.write_flow("hub.json", hub_flow(opt, port, opt.durability));
    // The hub's engine may fsync its nats-server's files (durability "sync"); at info, it logs how
    // many fsyncs served how many acknowledgements when it stops.
    hub_engine.write_config(R"({"log": {"level": "info"}, "http": {"listen": ""}, "nats": {"store_dir": ")" +
                            (dir / "hub-nats").string() + R"("}})");
    hub_engine.start();
    if (!hub_engine.wait_log("flows up", 30s)) die(me, "the hub did not start:\n" + hub_engine.log());
    site_a.start();
    if (!site_a.wait_log("link up", 30s))
      die(me, "site A did not link up:\n" + site_a.log() + hub_engine.log());
    std::this_thread::sleep_for(1s);
    add("site_a_idle_rss_mb", num("%.1f", mib(weir::bench::status_kib(site_a.pid(), "VmRSS:"))));
    add("hub_idle_rss_mb", num("%.1f", mib(weir::bench::status_kib(hub_engine.pid(), "VmRSS:"))));
    if (site_a.terminate() != 0) die(me, "site A did not stop cleanly:\n" + site_a.log());

    const auto publish_t0 = Clock::now();
    {
      auto pub = weir::bus::AsyncPublisher::create(*a.conn);
      if (!pub) die(me, "publisher: " + pub.status().text());
      for (std::uint64_t i = 0; i < n; ++i)
        if (auto st = pub.value()->publish("src.data", weir::bench::record(i), "b" + std::to_string(i));
            !st.ok())
          die(me, "publish: " + st.text());
      std::vector<weir::bus::PublishFailure> failures;
      if (auto st = pub.value()->wait_all(60s, failures); !st.ok() || !failures.empty())
        die(me, "source publish failed: " + st.text());
    }
    const auto publish_secs = std::chrono::duration<double>(Clock::now() - publish_t0).count();
    if (a.messages("SRC") != n) die(me, "SRC holds " + std::to_string(a.messages("SRC")) + " records");

    weir::bench::reset_peak_rss(hub_engine.pid());
    const auto started = Clock::now();
    site_a.start();
    while (a.delivered("SRC") == 0) {
      if (Clock::now() - started > 30s) die(me, "site A delivers nothing:\n" + site_a.log());
      std::this_thread::sleep_for(1ms);
    }
    const auto t0 = Clock::now();
    const pid_t pids[4] = {a.server->pid(), hub.server->pid(), site_a.pid(), hub_engine.pid()};
    const auto cpu0 = CpuSnapshot::take(pids);
    std::uint64_t stored = 0;
    while ((stored = hub.messages("OUT")) < n && Clock::now() - t0 < 120s) std::this_thread::sleep_for(5ms);
    const auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto cpu1 = CpuSnapshot::take(pids);
    const long a_peak = weir::bench::status_kib(site_a.pid(), "VmHWM:");
    const long hub_peak = weir::bench::status_kib(hub_engine.pid(), "VmHWM:");
    const auto a_threads = weir::bench::thread_cpu(site_a.pid());
    const auto hub_threads = weir::bench::thread_cpu(hub_engine.pid());
    std::this_thread::sleep_for(500ms);  // anything beyond N (a duplicate) would show by now
    stored = hub.messages("OUT");
    if (stored != n)
      die(me, "OUT holds " + std::to_string(stored) + " of " + std::to_string(n) + " records\n" +
                  site_a.log() + hub_engine.log());
    const double bridge = static_cast<double>(n) / secs;
    add("bridge_msgs_per_s", num("%.0f", bridge));
    add("bridge_ratio", num("%.3f", bridge / raw.one_hop_msgs_per_s));
    add("bridge_seconds", num("%.2f", secs));
    // As engine_bench counts: putting the records into the source stream included.
    const double with_publish = static_cast<double>(n) / (publish_secs + secs);
    add("bridge_with_source_publish_msgs_per_s", num("%.0f", with_publish));
    add("bridge_with_source_publish_ratio", num("%.3f", with_publish / raw.one_hop_msgs_per_s));
    add("bridge_start_to_first_delivery_ms",
        num("%.0f", std::chrono::duration<double, std::milli>(t0 - started).count()));
    add("bridge_cpu_share", cpu1.share_since(cpu0));
    add("site_a_thread_cpu_s", a_threads);
    add("hub_thread_cpu_s", hub_threads);

    // 4. Latency at a fixed rate through the same engines.
    weir::bench::reset_peak_rss(site_a.pid());
    weir::bench::reset_peak_rss(hub_engine.pid());
    weir::bench::LatencyOptions lo;
    lo.rate = opt.rate;
    lo.duration = std::chrono::seconds(opt.latency_secs);
    lo.first_seq = n;
    lo.hops = opt.hops;
    weir::bench::LatencyResult lat;
    const auto lat_cpu0 = CpuSnapshot::take(pids);
    try {
      lat = weir::bench::run_latency(*a.conn, *hub.conn, lo);
    } catch (const std::exception& e) {
      die(me, e.what());
    }
    const auto lat_cpu1 = CpuSnapshot::take(pids);
    add("bridge_latency_ms", lat.end_to_end.json());
    // Where the time goes: the same records seen at the intermediate hops.
    if (opt.hops)
      add("bridge_latency_hops_ms",
          "{\"site_a_source\":" + lat.source.json() + ",\"site_a_flow_stream\":" + lat.site_a_flow.json() +
              ",\"hub_flow_stream\":" + lat.hub_flow.json() + ",\"hub_out\":" + lat.end_to_end.json() + "}");
    add("latency_cpu_share", lat_cpu1.share_since(lat_cpu0));
    add("latency_target_rate", num("%.0f", opt.rate));
    add("latency_achieved_rate", num("%.0f", lat.achieved_rate));
    add("latency_records", "{\"published\":" + std::to_string(lat.published) +
                               ",\"received\":" + std::to_string(lat.received) +
                               ",\"dropped\":" + std::to_string(lat.dropped) + "}");
    const long a_peak_rate = weir::bench::status_kib(site_a.pid(), "VmHWM:");
    const long hub_peak_rate = weir::bench::status_kib(hub_engine.pid(), "VmHWM:");
    add("site_a_peak_rss_mb", num("%.1f", mib(std::max(a_peak, a_peak_rate))));
    add("hub_peak_rss_mb", num("%.1f", mib(std::max(hub_peak, hub_peak_rate))));
    add("site_a_peak_rss_mb_at_rate", num("%.1f", mib(a_peak_rate)));
    add("hub_peak_rss_mb_at_rate", num("%.1f", mib(hub_peak_rate)));
    const auto out_total = hub.messages("OUT");
    if (lat.received != lat.published || out_total != n + lat.published)
      die(me, "latency run: received " + std::to_string(lat.received) + " of " +
                  std::to_string(lat.published) + ", OUT holds " + std::to_string(out_total) + " of " +
                  std::to_string(n + lat.published));

    // 5. Durability "sync" against "none" at the hub, alternating so that both see the same
    // machine: throughput as in 3 (from the first delivery at site A until OUT holds the
    // round's records), then latency as in 4.
    if (opt.durability_rounds > 0) {
      const char* modes[2] = {"none", "sync"};
      std::vector<double> rates[2];
      std::vector<double> fsyncs, frames_acked;  // per sync round, from the hub's log
      weir::bench::LatencyResult lats[2];
      std::uint64_t seq = n + lat.published;
      const auto dn = opt.durability_records;
      auto restart_hub = [&](const char* mode) {
        if (site_a.terminate() != 0 || hub_engine.terminate() != 0) die(me, "an engine did not stop cleanly");
        hub_engine.write_flow("hub.json", hub_flow(opt, port, mode));
        hub_engine.start();
        if (!hub_engine.wait_log("flows up", 30s)) die(me, "the hub did not start:\n" + hub_engine.log());
      };
      auto check_mode = [&](const char* mode) {
        if (std::string(mode) == "sync" &&
            hub_engine.log().find("durability \"sync\" is off") != std::string::npos)
          die(me, "the hub cannot sync:\n" + hub_engine.log());
      };
      for (int round = 0; round < opt.durability_rounds; ++round)
        for (int m = 0; m < 2; ++m) {
          restart_hub(modes[m]);
          const auto out_before = hub.messages("OUT");
          const auto delivered_before = a.delivered("SRC");
          {
            auto pub = weir::bus::AsyncPublisher::create(*a.conn);
            if (!pub) die(me, "publisher: " + pub.status().text());
            for (std::uint64_t i = 0; i < dn; ++i, ++seq)
              if (auto st =
                      pub.value()->publish("src.data", weir::bench::record(seq), "d" + std::to_string(seq));
                  !st.ok())
                die(me, "publish: " + st.text());
            std::vector<weir::bus::PublishFailure> failures;
            if (auto st = pub.value()->wait_all(60s, failures); !st.ok() || !failures.empty())
              die(me, "source publish failed: " + st.text());
          }
          const auto begun = Clock::now();
          site_a.start();
          while (a.delivered("SRC") <= delivered_before) {
            if (Clock::now() - begun > 30s) die(me, "site A delivers nothing:\n" + site_a.log());
            std::this_thread::sleep_for(1ms);
          }
          const auto d0 = Clock::now();
          while (hub.messages("OUT") < out_before + dn && Clock::now() - d0 < 120s)
            std::this_thread::sleep_for(5ms);
          const auto dsecs = std::chrono::duration<double>(Clock::now() - d0).count();
          if (hub.messages("OUT") != out_before + dn)
            die(me, std::string("durability ") + modes[m] + ": OUT holds " +
                        std::to_string(hub.messages("OUT") - out_before) + " of " + std::to_string(dn) +
                        " records\n" + site_a.log() + hub_engine.log());
          check_mode(modes[m]);
          rates[m].push_back(static_cast<double>(dn) / dsecs);
          if (m == 1) {
            // The hub logs, when it stops, how many fsyncs served how many acknowledgements.
            if (site_a.terminate() != 0 || hub_engine.terminate() != 0)
              die(me, "an engine did not stop cleanly");
            const auto log = hub_engine.log();
            const auto at = log.rfind("[hub] acknowledgements on disk: ");
            if (at == std::string::npos) die(me, "the hub did not report its fsyncs:\n" + log);
            unsigned long long rounds = 0, frames = 0;
            if (std::sscanf(log.c_str() + at,
                            "[hub] acknowledgements on disk: %llu fsync rounds for %llu callbacks", &rounds,
                            &frames) != 2 ||
                rounds == 0)
              die(me, "cannot read the hub's fsync count");
            fsyncs.push_back(static_cast<double>(rounds));
            frames_acked.push_back(static_cast<double>(frames));
          }
        }
      for (int m = 0; m < 2; ++m) {
        restart_hub(modes[m]);
        site_a.start();
        if (!site_a.wait_log("link up", 30s)) die(me, "site A did not link up:\n" + site_a.log());
        weir::bench::LatencyOptions dl;
        dl.rate = opt.rate;
        dl.duration = std::chrono::seconds(opt.latency_secs);
        dl.first_seq = seq;
        dl.hops = false;
        try {
          lats[m] = weir::bench::run_latency(*a.conn, *hub.conn, dl);
        } catch (const std::exception& e) {
          die(me, e.what());
        }
        if (lats[m].received != lats[m].published)
          die(me, std::string("durability ") + modes[m] + ": latency run lost records");
        check_mode(modes[m]);
        seq += lats[m].published;
      }
      const double none = median(rates[0]), sync = median(rates[1]);
      add("durability",
          "{\"records\":" + std::to_string(dn) + ",\"rounds\":" + std::to_string(opt.durability_rounds) +
              ",\"none_msgs_per_s\":" + num("%.0f", none) + ",\"sync_msgs_per_s\":" + num("%.0f", sync) +
              ",\"sync_ratio\":" + num("%.3f", none > 0 ? sync / none : 0) +
              ",\"none_runs\":" + json_list(rates[0]) + ",\"sync_runs\":" + json_list(rates[1]) +
              ",\"sync_fsync_rounds\":" + json_list(fsyncs) + ",\"sync_frames_acked\":" +
              json_list(frames_acked) + ",\"none_latency_ms\":" + lats[0].end_to_end.json() +
              ",\"sync_latency_ms\":" + lats[1].end_to_end.json() + "}");
    }
    if (site_a.terminate() != 0 || hub_engine.terminate() != 0) die(me, "an engine did not stop cleanly");
  }
  add("targets", R"({"bridge_msgs_per_s":40000,"bridge_ratio":0.4,"latency_p99_ms_at_5000_msgs_per_s":20,)"
                 R"("engine_rss_mb":25})");
  std::printf("%s}\n", json.c_str());
  fs::remove_all(dir);
  return 0;
}
