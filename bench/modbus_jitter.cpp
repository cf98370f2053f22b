// Poll jitter of modbus_input with dead devices beside live ones: 18 live libmodbus TCP servers
// (in this process, a thread each) and 2 dead devices (a peer that accepts and never answers, an
// address nobody listens on), all polled every 100 ms by one modbus_input for 20 s. Jitter is a
// poll's start against its deadline (the component's own schedule, seen through its poll
// observer). Then the reference: the same live servers without the dead devices. Prints one JSON
// line: p50/p99/max per device and over all live devices for both runs, the ratio of the live
// p99s, and the records and missed ticks counted.
//   ninja -C build bench-modbus      (or: build/bench/modbus_jitter [--seconds N] [--live N])
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "modbus_input/modbus_input.hpp"
#include "registry/registry.hpp"
#include "sdk/diagnostic.hpp"
#include "support/free_port.hpp"
#include "support/modbus_server.hpp"
#include "support/shared_sink.hpp"

using namespace weir;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct Stats {
  double p50 = 0, p99 = 0, max = 0;
  std::size_t n = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5))];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  s.max = v.back();
  return s;
}

json::object to_json(const Stats& s) {
  auto r = [](double x) { return std::round(x * 1000) / 1000; };
  return {{"polls", s.n}, {"p50_ms", r(s.p50)}, {"p99_ms", r(s.p99)}, {"max_ms", r(s.max)}};
}

// One run: one modbus_input polling the live servers, and the two dead devices when `dead`.
// The JSON figures of the run; empty when the config does not load.
json::object run(const std::vector<std::unique_ptr<testing::ModbusServer>>& servers, bool dead, int seconds) {
  testing::SilentPeer hung;
  const int nobody = testing::free_port();
  const std::size_t live = servers.size();

  // Ten holding registers (one request) per device; the dead ones time out after 1 s.
  const std::string map = R"("interval": "100ms", "timeout": "1s", "registers": [
      {"name": "a", "address": 0}, {"name": "b", "address": 1, "type": "int32"},
      {"name": "c", "address": 3, "type": "float32"}, {"name": "d", "address": 5, "type": "float64"},
      {"name": "e", "address": 9}])";
  std::string devices;
  std::vector<std::string> names;
  auto add = [&](const std::string& name, int port) {
    if (!devices.empty()) devices += ",";
    devices += R"({"name": ")" + name + R"(", "host": "127.0.0.1", "port": )" + std::to_string(port) + ", " +
               map + "}";
    names.push_back(name);
  };
  for (std::size_t i = 0; i < live; ++i) add("live" + std::to_string(i), servers[i]->port());
  if (dead) {
    add("hung", hung.port());
    add("gone", nobody);
  }

  std::mutex mu;
  std::vector<std::vector<double>> jitter(names.size());
  components::modbus_input::set_poll_observer([&](std::size_t device,
                                                  std::chrono::steady_clock::time_point deadline,
                                                  std::chrono::steady_clock::time_point started) {
    const double ms = std::chrono::duration<double, std::milli>(started - deadline).count();
    std::lock_guard lock(mu);
    jitter[device].push_back(ms);
  });

  const auto* info = registry::builtins().find("modbus_input");
  sdk::Diagnostics diags;
  const auto cfg_json =
      json::parse(R"({"backoff_initial": "1s", "backoff_max": "5s", "devices": [)" + devices + "]}");
  auto cfg = info->parse(&cfg_json, diags, "/config");
  if (!cfg) {
    for (const auto& d : diags.items()) std::cerr << sdk::format(d) << "\n";
    return {};
  }
  auto component =
      info->create(cfg.get(), sdk::Context{"bench", "plant", sdk::Log("bench", "plant"), nullptr, {}});
  components::modbus_input::set_poll_observer(nullptr);
  auto* input = dynamic_cast<sdk::Input*>(component.get());
  testing::SharedSink sink;
  std::thread runner([&] { input->run(sink); });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  sink.stop = true;
  runner.join();
  std::vector<sdk::Metric> metrics;
  input->metrics(metrics);
  auto metric = [&](const std::string& name) {
    for (const auto& m : metrics)
      if (m.name == name) return m.value;
    return -1.0;
  };

  json::object out{{"live_devices", live}, {"dead_devices", dead ? 2 : 0}};
  std::vector<double> all_live;
  json::array per_device;
  double missed_live = 0;
  std::lock_guard lock(mu);
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto o = to_json(stats(jitter[i]));
    o["device"] = names[i];
    o["missed_ticks"] = metric("device_" + names[i] + "_missed_ticks");
    o["failures"] = metric("device_" + names[i] + "_failures");
    per_device.push_back(std::move(o));
    if (i < live) {
      all_live.insert(all_live.end(), jitter[i].begin(), jitter[i].end());
      missed_live += metric("device_" + names[i] + "_missed_ticks");
    }
  }
  out["live_overall"] = to_json(stats(all_live));
  out["live_missed_ticks"] = missed_live;
  out["records"] = sink.pushed.size();
  out["failure_records"] = sink.failed.size();
  out["per_device"] = std::move(per_device);
  return out;
}

}  // namespace

// The run with the dead devices, then the reference run without them (the same live servers),
// side by side in one line with the ratio of their live p99s.
int main(int argc, char** argv) {
  int seconds = 20, live = 18;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--live") == 0) live = std::atoi(argv[i + 1]);
  }
  std::vector<std::unique_ptr<testing::ModbusServer>> servers;
  for (int i = 0; i < live; ++i) {
    servers.push_back(std::make_unique<testing::ModbusServer>());
    servers.back()->set_holding(0, {static_cast<std::uint16_t>(i), 1, 2, 3, 4, 5, 6, 7, 8, 9});
  }
  auto with_dead = run(servers, true, seconds);
  auto reference = run(servers, false, seconds);
  if (with_dead.empty() || reference.empty()) return 1;
  const double p99 = with_dead.at("live_overall").at("p99_ms").to_number<double>();
  const double ref = reference.at("live_overall").at("p99_ms").to_number<double>();
  json::object out{{"bench", "modbus_jitter"}, {"seconds", seconds}, {"interval_ms", 100}};
  out["live_p99_ms_with_dead"] = p99;
  out["live_p99_ms_reference"] = ref;
  out["p99_ratio"] = ref > 0 ? std::round(p99 / ref * 100) / 100 : 0.0;
  out["with_dead"] = std::move(with_dead);
  out["reference"] = std::move(reference);
  std::cout << json::serialize(out) << std::endl;
  return 0;
}
