// dedupe, throttle and deadband against a json_filter pass-through in one run: the same records
// (10,000 sensors, a value and a time each) through each component's process(), rounds
// interleaved so that every processor sees the same machine state; records/s of each, the
// median of --rounds, and its ratio to the pass-through. Then the memory per key: each processor
// filled with 100,000 distinct keys, its state_size() estimate per key beside the heap the
// process really grew by (mallinfo2), per key. One JSON line. Run: `ninja -C build bench-keyed`.
#include <malloc.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "registry/registry.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/state.hpp"

using namespace weir;
using Steady = std::chrono::steady_clock;

namespace {

struct Clock : sdk::Clock {
  sdk::Millis t = 0;
  sdk::Millis now() const override { return t; }
};

struct Counting : sdk::TimedEmitter {
  std::size_t emitted = 0, failed = 0;
  void emit(sdk::Port, sdk::Record&&) override { ++emitted; }
  void emit_at(sdk::Millis, sdk::Port, sdk::Record&&) override { ++emitted; }
  void fail(sdk::Record&&, std::string_view) override { ++failed; }
};

std::unique_ptr<sdk::Processor> make(const std::string& type, const std::string& config) {
  const auto* info = registry::builtins().find(type);
  sdk::Diagnostics d;
  auto v = boost::json::parse(config);
  auto cfg = info->parse(&v, d, "/config");
  if (!cfg) {
    std::fprintf(stderr, "keyed_bench: %s config does not parse\n", type.c_str());
    std::exit(1);
  }
  auto c = info->create(cfg.get(), sdk::Context{"bench", type, sdk::Log("bench", type), nullptr, {}});
  return std::unique_ptr<sdk::Processor>(static_cast<sdk::Processor*>(c.release()));
}

struct Case {
  std::string name, type, config;
};

// Records/s of one pass over `records` (copied in, as the engine hands over parsed records).
double run(const Case& c, const std::vector<sdk::Record>& records, std::size_t& passed) {
  auto p = make(c.type, c.config);
  Clock clock;
  if (auto* s = dynamic_cast<sdk::StatefulProcessor*>(p.get())) s->set_clock(&clock);
  Counting out;
  const auto t0 = Steady::now();
  for (std::size_t i = 0; i < records.size(); ++i) {
    clock.t = static_cast<sdk::Millis>(i);  // 1,000 records per second of processing time
    p->process(sdk::Record(records[i]), out);
  }
  const double s = std::chrono::duration<double>(Steady::now() - t0).count();
  passed = out.emitted;
  if (out.failed) {
    std::fprintf(stderr, "keyed_bench: %s failed %zu records\n", c.name.c_str(), out.failed);
    std::exit(1);
  }
  return static_cast<double>(records.size()) / s;
}

struct PerKey {
  double estimate = 0, measured = 0;
};

// Fills a processor with `keys` distinct keys; bytes per key by its estimate and by the heap.
PerKey per_key(const Case& c, std::size_t keys) {
  std::vector<sdk::Record> records;
  records.reserve(keys);
  for (std::size_t i = 0; i < keys; ++i) {
    char sensor[32];
    std::snprintf(sensor, sizeof sensor, "sensor-%06zu", i);  // 13 bytes: inside a string's own buffer
    records.push_back(
        {"r" + std::to_string(i), boost::json::object{{"sensor", sensor}, {"value", 1.5}, {"ts", 0}}});
  }
  auto p = make(c.type, c.config);
  auto* s = dynamic_cast<sdk::StatefulProcessor*>(p.get());
  Clock clock;
  s->set_clock(&clock);
  Counting out;
  const auto before = mallinfo2().uordblks;
  // The records stay whole (the counting emitter keeps nothing and moves nothing out of them):
  // what the heap grew by is the state.
  for (auto& r : records) p->process(std::move(r), out);
  const auto after = mallinfo2().uordblks;
  const auto size = s->state_size();
  return {static_cast<double>(size.bytes) / static_cast<double>(size.keys),
          (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(size.keys)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  std::size_t n = 200'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (a == "--records") n = static_cast<std::size_t>(std::atoll(argv[i + 1]));
  }
  std::vector<sdk::Record> records;
  records.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    char sensor[32];
    std::snprintf(sensor, sizeof sensor, "sensor-%05zu", i % 10'000);
    records.push_back({"r" + std::to_string(i),
                       boost::json::object{{"sensor", sensor},
                                           {"value", static_cast<double>((i * 7919) % 1000) / 10.0},
                                           {"ts", static_cast<std::int64_t>(i)}}});
  }
  const std::vector<Case> cases = {
      {"pass_through", "json_filter", R"({"where": "true"})"},
      {"dedupe", "dedupe", R"({"key": "sensor", "window": "20s"})"},
      {"throttle", "throttle", R"({"key": "sensor", "limit": 1, "interval": "30s"})"},
      {"deadband", "deadband", R"({"key": "sensor", "value": "value", "band": 20})"},
  };
  std::vector<std::vector<double>> rates(cases.size());
  std::vector<std::size_t> passed(cases.size());
  for (int r = 0; r < rounds; ++r)
    for (std::size_t c = 0; c < cases.size(); ++c) rates[c].push_back(run(cases[c], records, passed[c]));

  boost::json::object result{{"bench", "keyed"}, {"records", n}, {"keys", 10'000}, {"rounds", rounds}};
  const double base = median(rates[0]);
  for (std::size_t c = 0; c < cases.size(); ++c) {
    boost::json::object o{{"records_per_s", std::round(median(rates[c]))}, {"passed", passed[c]}};
    if (c > 0) o["ratio_to_pass_through"] = std::round(median(rates[c]) / base * 1000) / 1000;
    result[cases[c].name] = std::move(o);
  }
  const std::size_t keys = 100'000;
  boost::json::object mem{{"keys", keys}};
  for (std::size_t c = 1; c < cases.size(); ++c) {
    auto pk = per_key(cases[c], keys);
    mem[cases[c].name] =
        boost::json::object{{"estimate", std::round(pk.estimate)}, {"heap", std::round(pk.measured)}};
  }
  auto hb = per_key(
      {"deadband_heartbeat_emit", "deadband",
       R"({"key": "sensor", "value": "value", "band": 20, "heartbeat": "1m", "heartbeat_emit": true})"},
      keys);
  mem["deadband_heartbeat_emit"] =
      boost::json::object{{"estimate", std::round(hb.estimate)}, {"heap", std::round(hb.measured)}};
  result["bytes_per_key"] = std::move(mem);
  std::printf("%s\n", sdk::to_json(result).c_str());
  return 0;
}
