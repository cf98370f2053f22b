// The bridge soak (issue 11): live traffic through a two-site bridge for a long time (30 minutes
// by default) while random faults hit it, one at a time: SIGKILL of either engine, a restart
// (SIGTERM) or a SIGKILL of either nats-server, a cut of the link, or the link down for 5–40 s.
// At the end the hub's sink, a file that keeps every line (file_output), must hold every record
// exactly once, and each engine's RSS must be flat after warm-up.
//
// Not a meson test (it must not run in CI); see tests/soak/README.md. Prints its progress, then
// one JSON summary line ({"soak":"bridge",...}) last. Exit code: 0 pass, 1 miscount, 2 count
// exact but an engine's RSS grew, 3 the harness itself failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bus/connection.hpp"
#include "bus/publisher.hpp"
#include "bus/stream_messages.hpp"
#include "bus/topology.hpp"
#include "integration/bridge/two_sites.hpp"
#include "soak_config.h"

using namespace weir::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// ---- options ---------------------------------------------------------------------------------

const char* const kFaultKinds[] = {"kill_a_engine", "kill_hub_engine", "restart_a_nats", "restart_hub_nats",
                                   "kill9_a_nats",  "kill9_hub_nats",  "cut_link",       "link_down"};

struct Options {
  double duration_s = 30 * 60;
  std::uint64_t seed = 0;
  bool seed_given = false;
  std::uint64_t rate = 2000;
  double fault_min_s = 20, fault_max_s = 60;
  double warmup_s = -1;  // < 0: min(120 s, duration / 4)
  double sample_every_s = 5;
  double link_delay_ms = 100;
  double catch_up_s = 600;
  double rss_tolerance_mib = 10;
  std::string dir;  // empty: a fresh one under $TMPDIR
  bool keep = false;
  bool trace = false;                     // mirror both flows' streams and dump them at the end
  std::map<std::string, double> weights;  // fault kind → weight
};

Options g_options;
int g_exit_code = 3;    // until the soak reaches its verdict
std::string g_summary;  // the JSON line, printed last by main()

// "90", "90s", "1500ms", "30m", "2h" → seconds; < 0 when malformed.
double parse_duration(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0) return -1;
  const std::string unit(end);
  if (unit.empty() || unit == "s") return v;
  if (unit == "ms") return v / 1000;
  if (unit == "m" || unit == "min") return v * 60;
  if (unit == "h") return v * 3600;
  return -1;
}

const char* const kUsage =
    "usage: bridge_soak [DURATION] [--duration D] [--seed N] [--rate R] [--fault-every MIN,MAX]\n"
    "                   [--warmup D] [--sample-every D] [--link-delay D] [--catch-up D]\n"
    "                   [--rss-tolerance-mib M] [--faults KIND[:W],...] [--dir PATH] [--keep]\n"
    "                   [--trace]\n"
    "                   [--weir PATH]\n"
    "  DURATION (also WEIR_SOAK_DURATION): 90, 90s, 3m, 1h; default 30m.\n"
    "  --seed (also WEIR_SOAK_SEED): the fault schedule's seed; default random, printed.\n"
    "  --faults: the kinds to draw from, each with an optional weight (default all, weight 1):\n"
    "    kill_a_engine kill_hub_engine restart_a_nats restart_hub_nats kill9_a_nats kill9_hub_nats\n"
    "    cut_link link_down\n"
    "  --dir: where the hub's file, the event log and (on failure) the engines' logs go; kept on\n"
    "    failure or with --keep, removed on a pass.\n"
    "  --trace: a JetStream mirror of each flow's stream (WEIR_UPLINK at site A, WEIR_HUB at the\n"
    "    hub), which keeps every batch the janitor purges; dumped at the end to trace_*.tsv\n"
    "    (sequence, time, Nats-Msg-Id, Weir-Pos, record numbers) to find where a record doubled.\n";

bool parse_options(int argc, char** argv, Options& o) {
  auto duration_arg = [](const std::string& v, double& out) {
    out = parse_duration(v);
    return out >= 0;
  };
  if (const char* d = std::getenv("WEIR_SOAK_DURATION"); d && *d && !duration_arg(d, o.duration_s))
    return false;
  if (const char* s = std::getenv("WEIR_SOAK_SEED"); s && *s) {
    o.seed = std::strtoull(s, nullptr, 10);
    o.seed_given = true;
  }
  for (const char* k : kFaultKinds) o.weights[k] = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& v) {
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--trace") {
      o.trace = true;
    } else if (a.rfind("--", 0) != 0) {
      if (!duration_arg(a, o.duration_s)) return false;
    } else if (!value(v)) {
      return false;
    } else if (a == "--duration") {
      if (!duration_arg(v, o.duration_s)) return false;
    } else if (a == "--seed") {
      o.seed = std::strtoull(v.c_str(), nullptr, 10);
      o.seed_given = true;
    } else if (a == "--rate") {
      o.rate = std::strtoull(v.c_str(), nullptr, 10);
      if (o.rate < 10) return false;
    } else if (a == "--fault-every") {
      const auto comma = v.find(',');
      if (comma == std::string::npos) return false;
      o.fault_min_s = parse_duration(v.substr(0, comma));
      o.fault_max_s = parse_duration(v.substr(comma + 1));
      if (o.fault_min_s < 0 || o.fault_max_s < o.fault_min_s) return false;
    } else if (a == "--warmup") {
      if (!duration_arg(v, o.warmup_s)) return false;
    } else if (a == "--sample-every") {
      if (!duration_arg(v, o.sample_every_s) || o.sample_every_s <= 0) return false;
    } else if (a == "--link-delay") {
      double s = 0;
      if (!duration_arg(v, s)) return false;
      o.link_delay_ms = s * 1000;
    } else if (a == "--catch-up") {
      if (!duration_arg(v, o.catch_up_s)) return false;
    } else if (a == "--rss-tolerance-mib") {
      o.rss_tolerance_mib = std::strtod(v.c_str(), nullptr);
    } else if (a == "--faults") {
      o.weights.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        const auto colon = item.find(':');
        const std::string kind = item.substr(0, colon);
        if (std::find(std::begin(kFaultKinds), std::end(kFaultKinds), kind) == std::end(kFaultKinds))
          return false;
        o.weights[kind] = colon == std::string::npos ? 1 : std::strtod(item.c_str() + colon + 1, nullptr);
      }
    } else if (a == "--dir") {
      o.dir = v;
    } else if (a == "--weir") {
      ::setenv("WEIR_BIN", v.c_str(), 1);
    } else {
      return false;
    }
  }
  if (o.warmup_s < 0) o.warmup_s = std::min(120.0, o.duration_s / 4);
  return true;
}

// ---- output ----------------------------------------------------------------------------------

Clock::time_point g_start;
double now_s() {
  return std::chrono::duration<double>(Clock::now() - g_start).count();
}

std::mutex g_log_mu;
std::ofstream g_events;  // events.log in the soak's dir

void event(const std::string& what) {
  char t[32];
  std::snprintf(t, sizeof t, "[%8.1fs] ", now_s());
  std::lock_guard lock(g_log_mu);
  std::cout << t << what << std::endl;
  if (g_events) g_events << t << what << std::endl;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += b;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// ---- the live source -------------------------------------------------------------------------

// Publishes {"n": i, "value": i % 100, "site": "a"|"b"} (as EngineRig::publish_source) to
// src.data at site A in bursts every 100 ms, at `rate` per second, with Nats-Msg-Id src-<i>.
// Unlike PacedSource it rides out its nats-server going away: a burst that is not acknowledged
// is sent again (same ids, within SRC's duplicate window of 2 minutes) until it is, so the
// records are exactly [0, published()) and none is skipped. A burst that falls behind is caught
// up at once, as a gateway forwarding what it buffered.
class SoakSource {
 public:
  SoakSource(const std::string& url, std::uint64_t rate) : per_step_(std::max<std::uint64_t>(1, rate / 10)) {
    weir::bus::ConnectOptions o;
    o.url = url;
    o.name = "soak-source";
    o.connect_timeout = 30s;
    auto c = weir::bus::Connection::connect(o);
    REQUIRE_MESSAGE(c.ok(), c.status().text());
    conn_ = std::move(c.value());
    auto pub = weir::bus::AsyncPublisher::create(*conn_);
    REQUIRE_MESSAGE(pub.ok(), pub.status().text());
    pub_ = std::move(pub.value());
    thread_ = std::thread([this] { run(); });
  }
  ~SoakSource() { stop(); }

  std::uint64_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return next_;
  }
  std::uint64_t published() const { return next_; }
  std::uint64_t retries() const { return retries_; }
  // (seconds since the start, records acknowledged by then), one per second: when record n left.
  std::vector<std::pair<double, std::uint64_t>> progress() {
    std::lock_guard lock(mu_);
    return progress_;
  }

 private:
  void run() {
    auto due = Clock::now();
    double last_mark = -1;
    while (!stop_) {
      const auto from = next_.load();
      for (auto i = from; i < from + per_step_; ++i) {
        const std::string body = R"({"n":)" + std::to_string(i) + R"(,"value":)" + std::to_string(i % 100) +
                                 R"(,"site":")" + (i % 2 ? "b" : "a") + "\"}";
        (void)pub_->publish("src.data", body, "src-" + std::to_string(i));  // a failure is listed
      }
      std::vector<weir::bus::PublishFailure> failures;
      (void)pub_->wait_all(10s, failures);
      for (int attempt = 1; !failures.empty(); ++attempt) {
        if (attempt == 1 || attempt % 10 == 0)
          event("source: " + std::to_string(failures.size()) + " records of burst " + std::to_string(from) +
                " not acknowledged (" + failures.front().error.text() + "), sending again");
        ++retries_;
        std::this_thread::sleep_for(200ms);
        (void)pub_->retry(failures);
        failures.clear();
        (void)pub_->wait_all(10s, failures);
      }
      next_ = from + per_step_;
      if (const double t = now_s(); t - last_mark >= 1) {
        std::lock_guard lock(mu_);
        progress_.emplace_back(t, next_.load());
        last_mark = t;
      }
      due += 100ms;
      std::this_thread::sleep_until(due);
    }
  }

  std::uint64_t per_step_;
  std::unique_ptr<weir::bus::Connection> conn_;
  std::unique_ptr<weir::bus::AsyncPublisher> pub_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::mutex mu_;
  std::vector<std::pair<double, std::uint64_t>> progress_;
  std::thread thread_;
};

// ---- RSS ---------------------------------------------------------------------------------------

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

double mib(double kib) {
  return kib / 1024;
}

// One engine process: from its start until it was killed (or the soak ended).
struct Process {
  std::string engine;  // "site_a" or "hub"
  int index = 0;       // 1, 2, ... per engine
  pid_t pid = -1;
  double start_s = 0, end_s = -1;
  std::string ended;                             // "sigkill", "exited", "end"
  std::vector<std::pair<double, long>> samples;  // (age in s, VmRSS KiB)
  double lived() const { return (end_s < 0 ? now_s() : end_s) - start_s; }
};

double median(std::vector<long> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2.0;
}

// The RSS trend of one process after warm-up: the median over a window right after warm-up
// against the median over the last window of its life, the maximum after warm-up, and the
// least-squares slope after warm-up. Judged only when it lived long enough for both windows.
struct Trend {
  bool judged = false;
  double window_s = 0;
  double at_warmup_kib = -1, at_end_kib = -1, max_kib = -1, max_after_warmup_kib = -1, slope_mib_per_h = 0;
};

Trend trend(const Process& p, double warmup_s) {
  Trend t;
  t.window_s = std::max(10.0, std::min(60.0, warmup_s / 2));
  const double lived = p.lived();
  std::vector<long> first, last;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (auto [age, kib] : p.samples) {
    t.max_kib = std::max<double>(t.max_kib, kib);
    if (age < warmup_s) continue;
    t.max_after_warmup_kib = std::max<double>(t.max_after_warmup_kib, kib);
    if (age < warmup_s + t.window_s) first.push_back(kib);
    if (age >= lived - t.window_s) last.push_back(kib);
    sx += age, sy += kib, sxx += age * age, sxy += age * kib, ++n;
  }
  t.judged = lived >= warmup_s + 2 * t.window_s && !first.empty() && !last.empty();
  if (!first.empty()) t.at_warmup_kib = median(first);
  if (!last.empty()) t.at_end_kib = median(last);
  if (n >= 3 && n * sxx - sx * sx > 0)
    t.slope_mib_per_h = mib((n * sxy - sx * sy) / (n * sxx - sx * sx)) * 3600;
  return t;
}

// ---- the hub's file ----------------------------------------------------------------------------

struct Count {
  std::size_t lines = 0, bad = 0, beyond = 0;  // lines; not a record; n >= published
  std::uint64_t missing = 0, duplicated = 0, extra_lines = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> missing_ranges;  // [from, to]
  std::vector<std::pair<std::uint64_t, int>> duplicates;                // n, times (the first ones)
  std::vector<std::string> bad_lines;
};

// The record number of a line {"n":123,...}, or -1.
std::int64_t record_n(const std::string& line) {
  if (line.size() < 2 || line.front() != '{' || line.back() != '}') return -1;
  const auto at = line.find("\"n\":");
  if (at == std::string::npos) return -1;
  const char* p = line.c_str() + at + 4;
  char* end = nullptr;
  const long long v = std::strtoll(p, &end, 10);
  if (end == p || v < 0 || (*end != ',' && *end != '}')) return -1;
  return v;
}

Count count_file(const std::string& path, std::uint64_t published) {
  Count c;
  std::vector<std::uint8_t> seen(published, 0);
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    ++c.lines;
    const auto n = record_n(line);
    if (n < 0) {
      if (c.bad++ < 5) c.bad_lines.push_back(line.substr(0, 200));
      continue;
    }
    if (static_cast<std::uint64_t>(n) >= published) {
      ++c.beyond;
      continue;
    }
    if (seen[n] < 255) ++seen[n];
  }
  for (std::uint64_t i = 0; i < published; ++i) {
    if (seen[i] == 0) {
      ++c.missing;
      if (!c.missing_ranges.empty() && c.missing_ranges.back().second + 1 == i)
        c.missing_ranges.back().second = i;
      else if (c.missing_ranges.size() < 50)
        c.missing_ranges.emplace_back(i, i);
    } else if (seen[i] > 1) {
      ++c.duplicated;
      c.extra_lines += seen[i] - 1;
      if (c.duplicates.size() < 50) c.duplicates.emplace_back(i, seen[i]);
    }
  }
  return c;
}

// ---- --trace: mirrors of the flows' streams ---------------------------------------------------

// A mirror keeps every message the origin stored, under the origin's sequence, with its headers,
// whatever the janitor purges from the origin afterwards.
class StreamTrace {
 public:
  StreamTrace(const std::string& url, std::string origin)
      : origin_(std::move(origin)), mirror_("TRACE_" + origin_) {
    weir::bus::ConnectOptions o;
    o.url = url;
    o.name = "soak-trace";
    auto c = weir::bus::Connection::connect(o);
    REQUIRE_MESSAGE(c.ok(), c.status().text());
    conn_ = std::move(c.value());
  }

  // Once the engine made the origin stream.
  void start() {
    auto js = conn_->jetstream();
    REQUIRE_MESSAGE(js.ok(), js.status().text());
    REQUIRE_MESSAGE(wait_until([&] { return weir::bus::stream_info(js->raw(), origin_).ok(); }, 30s, 50ms),
                    "no stream " << origin_);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = mirror_.c_str();
    cfg.Storage = js_FileStorage;
    jsStreamSource src;
    jsStreamSource_Init(&src);
    src.Name = origin_.c_str();
    cfg.Mirror = &src;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus st = js_AddStream(&si, js->raw(), &cfg, nullptr, &jerr);
    if (si) jsStreamInfo_Destroy(si);
    REQUIRE_MESSAGE(st == NATS_OK, "mirror of " << origin_ << ": " << natsStatus_GetText(st) << " " << jerr);
    event("trace: " + mirror_ + " mirrors " + origin_);
  }

  // One line per stored batch: seq, time, subject, msg id, Weir-Pos, Weir-Records, the record
  // numbers' first, last and count.
  void dump(const std::string& path) {
    std::ofstream out(path);
    out << "seq\ttime_ns\tsubject\tmsg_id\tweir_pos\tweir_records\tfirst_n\tlast_n\tn_count\n";
    auto js = conn_->jetstream();
    if (!js.ok()) return;
    auto info = weir::bus::stream_info(js->raw(), mirror_);
    if (!info.ok()) return;
    std::size_t n_msgs = 0;
    for (auto seq = info->first_seq; seq <= info->last_seq && info->messages > 0; ++seq) {
      auto m = weir::bus::get_stream_msg(js->raw(), mirror_, seq);
      if (!m.ok()) continue;
      std::int64_t first = -1, last = -1;
      std::size_t count = 0;
      for (std::size_t at = m->data.find("\"n\":"); at != std::string::npos;
           at = m->data.find("\"n\":", at + 4)) {
        const long long v = std::strtoll(m->data.c_str() + at + 4, nullptr, 10);
        if (first < 0) first = v;
        last = v;
        ++count;
      }
      auto h = [&](const char* k) { return std::string(m->header(k).value_or("")); };
      out << m->seq << "\t" << m->time_ns << "\t" << m->subject << "\t" << h("Nats-Msg-Id") << "\t"
          << h("Weir-Pos") << "\t" << h("Weir-Records") << "\t" << first << "\t" << last << "\t" << count
          << "\n";
      ++n_msgs;
    }
    event("trace: " + std::to_string(n_msgs) + " messages of " + mirror_ + " in " + path);
  }

 private:
  std::string origin_, mirror_;
  std::unique_ptr<weir::bus::Connection> conn_;
};

// ---- the soak ----------------------------------------------------------------------------------

class Soak {
 public:
  explicit Soak(const std::string& dir) : dir_(dir), out_(dir + "/hub.ndjson") {
    LinkOptions o;
    // Both flows' duplicate windows are the smallest allowed, far below an outage, ack_wait
    // plus a restart or a broker restart: JetStream's window is not what drops the replays.
    o.a_settings = R"({"duplicate_window": "1s", "ack_wait": "5s"})";
    o.hub_settings = R"({"duplicate_window": "1s", "ack_wait": "2s"})";
    o.hub_sink = R"({ "id": "sink", "type": "file_output", "inputs": ["from_sites"], "config": { "path": ")" +
                 out_ + R"(", "max_size": 0 } })";
    sites_ = std::make_unique<TwoSites>(o);
    // The hub's engine sees its nats-server's store, so its receiver runs with its default
    // durability "sync" (acknowledgements wait for an fsync), as an edge hub with the embedded
    // server would.
    auto& hub = sites_->hub();
    hub.write_config(R"("http": {"listen": ")" + hub.api() + R"(", "token": ")" + EngineRig::token() +
                     R"("}, "nats": {"store_dir": ")" + hub.server().store_dir() + R"("})");
    sites_->proxy().set_delay(std::chrono::milliseconds(static_cast<long>(g_options.link_delay_ms)));
  }

  void run();

 private:
  EngineRig& rig(int e) { return e == 0 ? sites_->site_a() : sites_->hub(); }
  static const char* engine_name(int e) { return e == 0 ? "site_a" : "hub"; }
  void start_engine(int e);
  void kill_engine(int e);
  void sample();
  void watch_engines();
  void inject(const std::string& kind);
  void progress_line();
  std::string summary(std::uint64_t published, const Count& c, double run_s, double catch_up_s,
                      bool caught_up, bool& rss_flat_known, bool& rss_flat);
  void keep_logs();

  std::string dir_, out_;
  std::unique_ptr<TwoSites> sites_;
  std::unique_ptr<SoakSource> source_;
  std::unique_ptr<StreamTrace> trace_[2];
  std::mt19937_64 rng_{g_options.seed};
  std::vector<Process> procs_;
  int current_[2] = {-1, -1};  // index into procs_ of each engine's running process
  bool engine_up_[2] = {false, false};
  int unexpected_exits_[2] = {0, 0};
  std::map<std::string, int> faults_;
  struct Pending {
    double at_s;
    std::string what;
    std::function<void()> restore;
  };
  std::optional<Pending> pending_;

  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
};

void Soak::start_engine(int e) {
  rig(e).start_engine();
  engine_up_[e] = true;
  Process p;
  p.engine = engine_name(e);
  p.index = 1;
  for (const auto& q : procs_)
    if (q.engine == p.engine) ++p.index;
  p.pid = rig(e).engine_pid();
  p.start_s = now_s();
  procs_.push_back(p);
  current_[e] = static_cast<int>(procs_.size()) - 1;
  event(std::string(engine_name(e)) + " engine #" + std::to_string(p.index) + " started, pid " +
        std::to_string(p.pid));
}

void Soak::kill_engine(int e) {
  sample();  // its last RSS
  rig(e).kill_engine();
  engine_up_[e] = false;
  if (current_[e] >= 0) {
    procs_[current_[e]].end_s = now_s();
    procs_[current_[e]].ended = "sigkill";
  }
  current_[e] = -1;
}

void Soak::sample() {
  for (int e = 0; e < 2; ++e) {
    if (current_[e] < 0) continue;
    auto& p = procs_[current_[e]];
    const double age = now_s() - p.start_s;
    if (age < 1) continue;  // not yet the engine (fork, exec, loading)
    const long kib = rss_kib(p.pid);
    if (kib > 0) p.samples.emplace_back(age, kib);
  }
}

// An engine that exits on its own is a finding: it is logged, counted and started again.
void Soak::watch_engines() {
  for (int e = 0; e < 2; ++e) {
    if (!engine_up_[e] || rig(e).engine_running()) continue;
    ++unexpected_exits_[e];
    auto& p = procs_[current_[e]];
    p.end_s = now_s();
    p.ended = "exited";
    event(std::string("!! ") + engine_name(e) + " engine #" + std::to_string(p.index) + " (pid " +
          std::to_string(p.pid) + ") exited on its own; starting it again");
    rig(e).kill_engine();  // forgets the reaped child
    engine_up_[e] = false;
    current_[e] = -1;
    start_engine(e);
  }
}

void Soak::inject(const std::string& kind) {
  ++faults_[kind];
  const double t = now_s();
  auto engine_kill = [&](int e) {
    const double pause = uniform(0.2, 5);
    event("fault " + kind + ": SIGKILL " + engine_name(e) + " engine #" +
          std::to_string(procs_[current_[e]].index) + ", back in " + fmt("%.1f", pause) + " s");
    kill_engine(e);
    pending_ =
        Pending{t + pause, std::string(engine_name(e)) + " engine restarted", [this, e] { start_engine(e); }};
  };
  auto server_down = [&](int e, bool hard) {
    const double pause = uniform(0.5, 5);
    event("fault " + kind + ": " + (hard ? "SIGKILL" : "stop (SIGTERM)") + " " + engine_name(e) +
          " nats-server, back in " + fmt("%.1f", pause) + " s");
    if (hard)
      rig(e).server().kill9();
    else
      rig(e).server().stop();
    pending_ = Pending{now_s() + pause, std::string(engine_name(e)) + " nats-server started",
                       [this, e] { rig(e).server().start(); }};
  };
  if (kind == "kill_a_engine") {
    engine_kill(0);
  } else if (kind == "kill_hub_engine") {
    engine_kill(1);
  } else if (kind == "restart_a_nats") {
    server_down(0, false);
  } else if (kind == "restart_hub_nats") {
    server_down(1, false);
  } else if (kind == "kill9_a_nats") {
    server_down(0, true);
  } else if (kind == "kill9_hub_nats") {
    server_down(1, true);
  } else if (kind == "cut_link") {
    event("fault cut_link: every connection of the link reset (" + std::to_string(sites_->proxy().active()) +
          " open)");
    sites_->proxy().cut();
  } else if (kind == "link_down") {
    const double down = uniform(5, 40);
    event("fault link_down: the link down for " + fmt("%.1f", down) + " s");
    sites_->proxy().set_down(true);
    pending_ = Pending{t + down, "the link up again", [this] { sites_->proxy().set_down(false); }};
  }
}

void Soak::progress_line() {
  std::string rss;
  for (int e = 0; e < 2; ++e) {
    rss += std::string(" ") + engine_name(e) + "_rss=";
    if (current_[e] >= 0 && !procs_[current_[e]].samples.empty())
      rss += fmt("%.1fMiB", mib(procs_[current_[e]].samples.back().second));
    else
      rss += "-";
  }
  int faults = 0;
  for (auto& [k, v] : faults_) faults += v;
  event("progress: published=" + std::to_string(source_->published()) +
        " hub_lines=" + std::to_string(count_lines(out_)) + " faults=" + std::to_string(faults) + rss);
}

void Soak::run() {
  const auto& o = g_options;
  start_engine(1);
  start_engine(0);
  if (o.trace) {
    trace_[0] = std::make_unique<StreamTrace>(sites_->site_a().server().url(), "WEIR_UPLINK");
    trace_[1] = std::make_unique<StreamTrace>(sites_->hub().server().url(), "WEIR_HUB");
    trace_[0]->start();
    trace_[1]->start();
  }
  source_ = std::make_unique<SoakSource>(sites_->site_a().server().url(), o.rate);
  event("source started at " + std::to_string(o.rate) + " records/s");

  // The faults' picker.
  std::vector<std::string> kinds;
  std::vector<double> weights;
  for (auto& [k, w] : o.weights)
    if (w > 0) kinds.push_back(k), weights.push_back(w);
  std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());

  double next_fault = kinds.empty() ? 1e300 : uniform(o.fault_min_s, o.fault_max_s);
  double next_sample = 0, next_progress = 30;
  while (now_s() < o.duration_s) {
    const double t = now_s();
    watch_engines();
    if (pending_ && t >= pending_->at_s) {
      auto p = std::move(*pending_);
      pending_.reset();
      p.restore();
      event(p.what);
      next_fault = now_s() + uniform(o.fault_min_s, o.fault_max_s);
    } else if (!pending_ && t >= next_fault) {
      inject(kinds[pick(rng_)]);
      if (!pending_) next_fault = now_s() + uniform(o.fault_min_s, o.fault_max_s);
    }
    if (t >= next_sample) {
      sample();
      next_sample = t + o.sample_every_s;
    }
    if (t >= next_progress) {
      progress_line();
      next_progress = t + 30;
    }
    std::this_thread::sleep_for(200ms);
  }
  if (pending_) {  // the last fault ends now
    pending_->restore();
    event(pending_->what + " (at the end)");
    pending_.reset();
  }
  watch_engines();
  sample();
  const double run_s = now_s();
  const std::uint64_t published = source_->stop();
  event("source stopped: " + std::to_string(published) + " records acknowledged by site A's SRC (" +
        std::to_string(source_->retries()) + " bursts sent again)");
  for (auto& p : procs_)
    if (p.end_s < 0) p.end_s = run_s, p.ended = "end";

  // Catch-up: the hub's file should reach `published` lines; then a settle time, so that a late
  // replay (a second line) would show.
  const auto caught_up = wait_until(
      [&] {
        watch_engines();
        return count_lines(out_) >= published;
      },
      std::chrono::milliseconds(static_cast<long>(o.catch_up_s * 1000)), 2s);
  const double catch_up_s = now_s() - run_s;
  event(std::string(caught_up ? "the hub caught up" : "!! the hub did not catch up") + " after " +
        fmt("%.1f", catch_up_s) + " s; settling 10 s");
  std::this_thread::sleep_for(10s);
  const Count c = count_file(out_, published);
  if (o.trace) {
    trace_[0]->dump(dir_ + "/trace_site_a.tsv");
    trace_[1]->dump(dir_ + "/trace_hub.tsv");
  }

  bool rss_known = false, rss_flat = true;
  const std::string line = summary(published, c, run_s, catch_up_s, caught_up, rss_known, rss_flat);
  const bool exact =
      c.missing == 0 && c.duplicated == 0 && c.bad == 0 && c.beyond == 0 && c.lines == published;
  g_exit_code = !exact ? 1 : (rss_known && !rss_flat) ? 2 : 0;
  if (g_exit_code != 0 || o.keep) keep_logs();
  std::ofstream(dir_ + "/summary.json") << line << "\n";
  g_summary = line;
}

std::string Soak::summary(std::uint64_t published, const Count& c, double run_s, double catch_up_s,
                          bool caught_up, bool& rss_known, bool& rss_flat) {
  const auto& o = g_options;
  std::string s = R"({"soak":"bridge","seed":)" + std::to_string(o.seed) + R"(,"duration_s":)" +
                  fmt("%.0f", run_s) + R"(,"rate_per_s":)" + std::to_string(o.rate) + R"(,"records":)" +
                  std::to_string(published) + R"(,"hub_lines":)" + std::to_string(c.lines) +
                  R"(,"missing":)" + std::to_string(c.missing) + R"(,"duplicated":)" +
                  std::to_string(c.duplicated) + R"(,"extra_lines":)" + std::to_string(c.extra_lines) +
                  R"(,"bad_lines":)" + std::to_string(c.bad) + R"(,"beyond_published":)" +
                  std::to_string(c.beyond) + R"(,"caught_up":)" + (caught_up ? "true" : "false") +
                  R"(,"catch_up_s":)" + fmt("%.1f", catch_up_s);
  int total = 0;
  s += R"(,"faults":{)";
  bool first = true;
  for (const char* k : kFaultKinds) {
    const int v = faults_.count(k) ? faults_.at(k) : 0;
    total += v;
    s += std::string(first ? "" : ",") + "\"" + k + "\":" + std::to_string(v);
    first = false;
  }
  s += R"(},"faults_total":)" + std::to_string(total) + R"(,"source_resends":)" +
       std::to_string(source_->retries()) + R"(,"unexpected_exits":{"site_a":)" +
       std::to_string(unexpected_exits_[0]) + R"(,"hub":)" + std::to_string(unexpected_exits_[1]) + "}";

  // RSS, per engine: every process, and the judgement on those that lived long enough.
  s += R"(,"rss":{"warmup_s":)" + fmt("%.0f", o.warmup_s) + R"(,"tolerance_mib":)" +
       fmt("%.1f", o.rss_tolerance_mib);
  for (const char* engine : {"site_a", "hub"}) {
    s += std::string(",\"") + engine + "\":{";
    double max_kib = -1;
    std::string list;
    const Process* longest = nullptr;
    for (const auto& p : procs_) {
      if (p.engine != engine) continue;
      const Trend t = trend(p, o.warmup_s);
      max_kib = std::max(max_kib, t.max_kib);
      if (!longest || p.lived() > longest->lived()) longest = &p;
      const double growth = mib(t.at_end_kib - t.at_warmup_kib);
      const bool flat = growth <= o.rss_tolerance_mib;
      if (t.judged) {
        rss_known = true;
        rss_flat = rss_flat && flat;
      }
      auto num = [](double kib) { return kib < 0 ? std::string("null") : fmt("%.1f", mib(kib)); };
      list += std::string(list.empty() ? "" : ",") + R"({"n":)" + std::to_string(p.index) + R"(,"start_s":)" +
              fmt("%.0f", p.start_s) + R"(,"lived_s":)" + fmt("%.0f", p.lived()) + R"(,"ended":)" +
              json_string(p.ended) + R"(,"first_mib":)" +
              (p.samples.empty() ? "null" : fmt("%.1f", mib(p.samples.front().second))) +
              R"(,"at_warmup_mib":)" + num(t.at_warmup_kib) + R"(,"at_end_mib":)" + num(t.at_end_kib) +
              R"(,"max_mib":)" + num(t.max_kib) + R"(,"slope_mib_per_h":)" +
              (t.at_warmup_kib < 0 ? "null" : fmt("%.1f", t.slope_mib_per_h)) + R"(,"flat":)" +
              (t.judged ? (flat ? "true" : "false") : "null") + "}";
    }
    s += R"("processes":)" +
         std::to_string(std::count_if(procs_.begin(), procs_.end(),
                                      [&](const Process& p) { return p.engine == engine; })) +
         R"(,"max_mib":)" + (max_kib < 0 ? "null" : fmt("%.1f", mib(max_kib)));
    if (longest) {
      const Trend t = trend(*longest, o.warmup_s);
      s += R"(,"longest_lived_s":)" + fmt("%.0f", longest->lived()) + R"(,"at_warmup_mib":)" +
           (t.at_warmup_kib < 0 ? "null" : fmt("%.1f", mib(t.at_warmup_kib))) + R"(,"at_end_mib":)" +
           (t.at_end_kib < 0 ? "null" : fmt("%.1f", mib(t.at_end_kib)));
    }
    s += R"(,"per_process":[)" + list + "]}";
  }
  s += "}";
  s += R"(,"rss_flat":)" + std::string(!rss_known ? "null" : rss_flat ? "true" : "false");

  // Where the missing records were published (from the source's progress), to set beside the
  // event log's faults.
  if (!c.missing_ranges.empty() || !c.duplicates.empty()) {
    const auto prog = source_->progress();
    auto when = [&](std::uint64_t n) {
      auto it = std::lower_bound(prog.begin(), prog.end(), n,
                                 [](const auto& p, std::uint64_t v) { return p.second <= v; });
      return it == prog.end() ? run_s : it->first;
    };
    s += R"(,"missing_ranges":[)";
    for (std::size_t i = 0; i < c.missing_ranges.size(); ++i)
      s += std::string(i ? "," : "") + "[" + std::to_string(c.missing_ranges[i].first) + "," +
           std::to_string(c.missing_ranges[i].second) + "," + fmt("%.1f", when(c.missing_ranges[i].first)) +
           "]";
    s += R"(],"duplicates":[)";
    for (std::size_t i = 0; i < c.duplicates.size(); ++i)
      s += std::string(i ? "," : "") + "[" + std::to_string(c.duplicates[i].first) + "," +
           std::to_string(c.duplicates[i].second) + "," + fmt("%.1f", when(c.duplicates[i].first)) + "]";
    s += "]";
  }
  if (!c.bad_lines.empty()) {
    s += R"(,"bad_line_examples":[)";
    for (std::size_t i = 0; i < c.bad_lines.size(); ++i) s += (i ? "," : "") + json_string(c.bad_lines[i]);
    s += "]";
  }
  const bool exact =
      c.missing == 0 && c.duplicated == 0 && c.bad == 0 && c.beyond == 0 && c.lines == published;
  s += R"(,"count_exact":)" + std::string(exact ? "true" : "false") + R"(,"pass":)" +
       (exact && (!rss_known || rss_flat) ? "true" : "false") + R"(,"dir":)" + json_string(dir_) + "}";
  return s;
}

// The engines' and servers' logs live in the rigs' temp dirs, which go with them: copy them.
void Soak::keep_logs() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (int e = 0; e < 2; ++e) {
    const std::string name = engine_name(e);
    fs::copy_file(rig(e).dir() + "/engine.log", dir_ + "/" + name + "_engine.log",
                  fs::copy_options::overwrite_existing, ec);
    fs::copy_file(rig(e).server().process().log_file(), dir_ + "/" + name + "_nats-server.log",
                  fs::copy_options::overwrite_existing, ec);
    std::ofstream state(dir_ + "/" + name + "_state.txt");
    for (const char* stream :
         e == 0 ? std::vector<const char*>{"SRC", "WEIR_UPLINK"} : std::vector<const char*>{"WEIR_HUB"})
      state << stream << ": " << rig(e).stream_messages(stream) << " messages\n";
  }
  fs::copy(sites_->site_a().flows_dir(), dir_ + "/site_a_flows", fs::copy_options::recursive, ec);
  fs::copy(sites_->hub().flows_dir(), dir_ + "/hub_flows", fs::copy_options::recursive, ec);
  event("logs kept in " + dir_);
}

}  // namespace

TEST_CASE("bridge soak") {
  namespace fs = std::filesystem;
  std::string dir = g_options.dir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/weir-soak-XXXXXX";
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    dir = templ;
  }
  fs::create_directories(dir);
  dir = fs::absolute(dir).string();
  g_events.open(dir + "/events.log", std::ios::app);
  event("bridge soak: seed " + std::to_string(g_options.seed) + ", " + fmt("%.0f", g_options.duration_s) +
        " s at " + std::to_string(g_options.rate) + " records/s, a fault every " +
        fmt("%.0f", g_options.fault_min_s) + "-" + fmt("%.0f", g_options.fault_max_s) + " s, warm-up " +
        fmt("%.0f", g_options.warmup_s) + " s, dir " + dir);
  try {
    Soak soak(dir);
    soak.run();
  } catch (...) {
    event("!! the soak itself failed; its dir is kept: " + dir);
    throw;
  }
  g_events.close();
  if (g_exit_code == 0 && !g_options.keep) fs::remove_all(dir);
}

int main(int argc, char** argv) {
  if (!parse_options(argc, argv, g_options)) {
    std::cerr << kUsage;
    return 64;
  }
  if (!g_options.seed_given)
    g_options.seed = std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32);
  ::setenv("WEIR_BIN", WEIR_SOAK_WEIR_BIN, 0);  // the build's weir, unless WEIR_BIN or --weir says otherwise
  g_start = Clock::now();
  doctest::Context ctx;
  ctx.setOption("minimal", true);  // doctest speaks only of failures
  const int rc = ctx.run();
  if (!g_summary.empty()) std::cout << g_summary << std::endl;
  return rc != 0 && g_exit_code == 0 ? 3 : g_exit_code;
}
