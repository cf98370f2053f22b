// window against a pass-through processor, side by side in one run: the same generated records
// (10,000 sensors, event times 100 per ms, so a 1 s tumbling window holds 10 records per sensor)
// go through `window` (tumbling 1 s, group_by sensor, avg and max of temp) and through
// json_filter with `where: true` (and, for scale, a json_filter that reads two fields), each called directly
// (no engine, no NATS: what the component itself costs). Records are built outside the timed part, in chunks,
// identically for all; the order rotates from round to round. Also: the state per open window, from
// state_size() and from the process's RSS growth while 10,000 windows are open. One JSON line. Run: `ninja -C
// build bench-window` (or build/bench/window_bench --records N --rounds R).
#include <malloc.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "registry/registry.hpp"
#include "sdk/spec.hpp"
#include "sdk/state.hpp"

using namespace weir;
using Steady = std::chrono::steady_clock;

namespace {

constexpr int keys = 10000;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "window_bench: %s\n", what.c_str());
  std::exit(1);
}

struct FixedClock : sdk::Clock {
  sdk::Millis t = 1'700'000'000'000;
  sdk::Millis now() const override { return t; }
};

struct Counting : sdk::TimedEmitter {
  std::uint64_t emitted = 0, failed = 0;
  void emit(sdk::Port, sdk::Record&&) override { ++emitted; }
  void emit_at(sdk::Millis, sdk::Port, sdk::Record&&) override { ++emitted; }
  void fail(sdk::Record&&, std::string_view) override { ++failed; }
};

std::unique_ptr<sdk::Processor> make(const std::string& type, const std::string& config) {
  const auto* info = registry::builtins().find(type);
  if (!info) die("no component " + type);
  sdk::Diagnostics diags;
  const auto v = boost::json::parse(config);
  auto cfg = info->parse(&v, diags, "/config");
  if (!cfg) die("bad config for " + type);
  sdk::Context ctx{"bench", type, sdk::Log("bench", type), nullptr, {}};
  auto c = info->create(cfg.get(), ctx);
  auto* p = dynamic_cast<sdk::Processor*>(c.get());
  if (!p || !c->start().is_ok()) die("cannot start " + type);
  c.release();
  return std::unique_ptr<sdk::Processor>(p);
}

const char* window_config =
    R"({"kind": "tumbling", "size": "1s", "time": "ts", "group_by": {"sensor": "sensor"},
  "aggregates": {"avg_temp": {"fn": "avg", "of": "temp"}, "max_temp": {"fn": "max", "of": "temp"}}})";

void chunk(std::vector<sdk::Record>& out, std::uint64_t from, std::uint64_t n) {
  out.clear();
  for (std::uint64_t i = from; i < from + n; ++i) {
    boost::json::object o{{"sensor", "s-" + std::to_string(i % keys)},
                          {"temp", 15.0 + static_cast<double>((i * 7919) % 1500) / 100},
                          {"ts", static_cast<std::int64_t>(1'700'000'000'000 + i / 100)}};
    out.push_back({"r" + std::to_string(i), std::move(o)});
  }
}

// Records per second through `p` (only process() is timed).
double run(sdk::Processor& p, std::uint64_t n, Counting& out) {
  std::vector<sdk::Record> batch;
  Steady::duration spent{};
  for (std::uint64_t from = 0; from < n; from += 10000) {
    chunk(batch, from, std::min<std::uint64_t>(10000, n - from));
    const auto t0 = Steady::now();
    for (auto& r : batch) p.process(std::move(r), out);
    spent += Steady::now() - t0;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(spent).count();
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}

std::string list(const std::vector<double>& v) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : ",") + std::to_string(static_cast<long long>(x));
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 1'000'000;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--records" && i + 1 < argc)
      n = std::stoull(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc)
      rounds = std::stoi(argv[++i]);
    else
      die("usage: window_bench [--records N] [--rounds R]");
  }
  std::vector<double> window_rps, pass_rps, expr_rps;
  std::uint64_t results = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 3; ++k) {
      const int which = (k + r) % 3;  // the order rotates from round to round
      FixedClock clock;
      Counting out;
      if (which == 2) {
        auto f = make("json_filter", R"({"where": "temp > 0 && sensor != \"x\""})");
        expr_rps.push_back(run(*f, n, out));
      } else if (which == 0) {
        auto w = make("window", window_config);
        static_cast<sdk::StatefulProcessor&>(*w).set_clock(&clock);
        window_rps.push_back(run(*w, n, out));
        results = out.emitted;
      } else {
        auto f = make("json_filter", R"({"where": "true"})");
        pass_rps.push_back(run(*f, n, out));
      }
      if (out.failed) die("records failed");
    }
  }
  // State per open window: 10,000 sensors in one window, nothing closed.
  malloc_trim(0);
  FixedClock clock;
  Counting out;
  auto w = make("window", window_config);
  auto& stateful = static_cast<sdk::StatefulProcessor&>(*w);
  stateful.set_clock(&clock);
  std::vector<sdk::Record> batch;
  chunk(batch, 0, keys);
  malloc_trim(0);
  const long before = rss_kib();
  for (auto& rec : batch) w->process(std::move(rec), out);
  const long after = rss_kib();
  const auto size = stateful.state_size();
  if (size.keys != keys) die("expected 10000 open windows");
  std::printf(
      "{\"bench\":\"window\",\"records\":%llu,\"rounds\":%d,\"keys\":%d,\"results_per_run\":%llu,"
      "\"window_records_per_s\":%.0f,\"passthrough_records_per_s\":%.0f,\"ratio\":%.3f,"
      "\"filter_reading_two_fields_records_per_s\":%.0f,\"ratio_to_filter\":%.3f,"
      "\"state_bytes_per_key_estimate\":%.0f,\"state_bytes_per_key_rss\":%.0f,"
      "\"window_rounds\":[%s],\"passthrough_rounds\":[%s]}\n",
      static_cast<unsigned long long>(n), rounds, keys, static_cast<unsigned long long>(results),
      median(window_rps), median(pass_rps), median(window_rps) / median(pass_rps), median(expr_rps),
      median(window_rps) / median(expr_rps), static_cast<double>(size.bytes) / keys,
      static_cast<double>(after - before) * 1024 / keys, list(window_rps).c_str(), list(pass_rps).c_str());
  return 0;
}
