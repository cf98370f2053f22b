// Stateful processors through crashes, end to end with the real binary: a live source keeps
// publishing while the engine is SIGKILLed three times, and the sink is a file that keeps every
// line it is given (file_output). A window emitted twice, a record counted twice or missed, or a
// duplicate that passes dedupe shows in the file. The flows' duplicate window is the smallest
// allowed (1 s), far below ack_wait plus a restart, so JetStream's window cannot be what drops
// the replays; the link to nats-server delays every chunk by 40 ms, so kills land while work is
// in flight.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "http/client.hpp"
#include "rig.hpp"
#include "support/tcp_proxy.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// Snapshots every 5 s: each kill comes after windows closed that no snapshot covers yet.
const std::string settings =
    R"("settings": {"duplicate_window": "1s", "ack_wait": "2s", "state_interval": "5s"})";
const std::string input =
    R"({"id": "src", "type": "nats_input", "config": {"subject": "src.>", "stream": "SRC", "ack_wait": "2s"}})";

std::unique_ptr<TcpProxy> slow_link(EngineRig& rig) {
  auto proxy = std::make_unique<TcpProxy>("127.0.0.1", static_cast<std::uint16_t>(rig.server().port()));
  proxy->set_delay(40ms);
  rig.route_engine_through(proxy->port());
  return proxy;
}

// Runs the source at 2,000 records/s for about 30 s with three SIGKILLs; returns how many
// records it published. After a restart the engine starts (1.5 s) and the stages wait
// ack_wait × 1.25 + 1 s (3.5 s) for what the killed run left unacknowledged; each kill comes about
// 3 s after that, while the stateful stage works through its backlog and the live records.
std::uint64_t live_with_kills(EngineRig& rig, TcpProxy& proxy, std::uint64_t copy_lag) {
  rig.start_engine();
  PacedSource source(rig, 2000, copy_lag);
  for (int k = 0; k < 3; ++k) {
    std::this_thread::sleep_for(8s);
    rig.kill_engine();
    proxy.cut();
    std::this_thread::sleep_for(500ms);
    rig.start_engine();
  }
  std::this_thread::sleep_for(3s);
  return source.stop();
}

struct Expected {
  int count = 0;
  double sum = 0;
  double max = -1;
};

}  // namespace

// Record n has event time div(n, 4) ms, key n % 1000 and value n % 100: a 1 s window holds
// 4,000 records, four per key, for 1,000 keys. The test computes every window's aggregates from
// what it published and wants each (key, window) in the file once, with exactly those figures.
TEST_CASE("window: tumbling 1 s over 1,000 keys, three SIGKILLs: every window once, aggregates exact") {
  EngineRig rig;
  rig.create_streams();
  auto proxy = slow_link(rig);
  const auto out = rig.dir() + "/windows.ndjson";
  rig.write_flow("win.json", R"({"version": 1, "name": "win", )" + settings + R"(, "components": [)" + input +
                                 R"x(,
      {"id": "win", "type": "window", "inputs": ["src"], "config": {
        "kind": "tumbling", "size": "1s", "time": "div(n, 4)", "group_by": {"key": "n % 1000"},
        "idle_timeout": "3s",
        "aggregates": {"avg": {"fn": "avg", "of": "value"}, "max": {"fn": "max", "of": "value"}}}},
      {"id": "sink", "type": "file_output", "inputs": ["win"], "config": {"path": ")x" +
                                 out + R"("}}]})");
  const auto n = live_with_kills(rig, *proxy, 0);
  MESSAGE(n << " records published");
  CHECK(n > 15000);
  std::map<std::pair<std::int64_t, std::int64_t>, Expected> expected;  // (key, window start)
  for (std::uint64_t i = 0; i < n; ++i) {
    auto& e = expected[{static_cast<std::int64_t>(i % 1000), static_cast<std::int64_t>(i / 4 / 1000 * 1000)}];
    e.count++;
    e.sum += static_cast<double>(i % 100);
    e.max = std::max(e.max, static_cast<double>(i % 100));
  }
  // The last windows close once the input is idle (idle_timeout).
  const auto lines = wait_lines(out, expected.size(), 180s);
  const auto context = rig.debug_state() + rig.engine_log();
  CHECK_MESSAGE(lines == expected.size(), context);
  std::map<std::pair<std::int64_t, std::int64_t>, int> seen;
  std::ifstream in(out);
  std::string line;
  int wrong = 0;
  while (std::getline(in, line)) {
    auto v = boost::json::parse(line).as_object();
    const auto key = v.at("key").to_number<std::int64_t>();
    const auto start = v.at("window_start").to_number<std::int64_t>();
    const std::pair<std::int64_t, std::int64_t> at{key, start};
    if (++seen[at] != 1) continue;  // counted below
    auto it = expected.find(at);
    if (it == expected.end()) {
      if (++wrong <= 5) MESSAGE("a window nothing was published for: " << line);
      continue;
    }
    const auto& e = it->second;
    const bool right = v.at("count").to_number<int>() == e.count &&
                       v.at("max").to_number<double>() == e.max &&
                       std::abs(v.at("avg").to_number<double>() - e.sum / e.count) < 1e-9;
    if (!right && ++wrong <= 5)
      MESSAGE("wrong aggregate: " << line << " expected count " << e.count << " avg " << e.sum / e.count
                                  << " max " << e.max);
    if (!right) ++wrong;
  }
  int twice = 0, missing = 0;
  for (const auto& [at, k] : seen) twice += k > 1;
  for (const auto& [at, e] : expected) missing += !seen.contains(at);
  // What the crashes left to recover: snapshots loaded, results a replay made again.
  const auto log = rig.engine_log();
  std::size_t restored = 0;
  for (auto at = log.find("state restored"); at != std::string::npos; at = log.find("state restored", at + 1))
    ++restored;
  // Batches skipped or results not stored again, since the last restart.
  const auto flow = weir::http::request("GET", rig.api(), "/api/v1/flows/win").body;
  const auto replays = flow.find(R"("id":"win")") == std::string::npos
                           ? std::string("?")
                           : flow.substr(flow.find(R"("replays":)", flow.find(R"("id":"win")")), 16);
  MESSAGE(restored << " restarts from a snapshot; " << expected.size() << " windows; last run's " << replays);
  if (std::getenv("SHOW_LOG")) MESSAGE(log);
  CHECK(wrong == 0);
  CHECK(twice == 0);
  CHECK(missing == 0);
  CHECK(rig.stop_engine() == 0);
}

// Every record is published twice, the copy as a message of its own 2 s (4,000 records) after
// the original, so that kills fall between originals and their copies; dedupe by n must pass
// each record once, through three SIGKILLs.
TEST_CASE("dedupe: a source that sends everything twice, three SIGKILLs: each record passes once") {
  EngineRig rig;
  rig.create_streams();
  auto proxy = slow_link(rig);
  const auto out = rig.dir() + "/dedupe.ndjson";
  rig.write_flow("dd.json", R"({"version": 1, "name": "dd", )" + settings + R"(, "components": [)" + input +
                                R"(,
      {"id": "dd", "type": "dedupe", "inputs": ["src"], "config": {"key": "n", "window": "1h"}},
      {"id": "sink", "type": "file_output", "inputs": ["dd"], "config": {"path": ")" +
                                out + R"("}}]})");
  const auto n = live_with_kills(rig, *proxy, 4000);
  MESSAGE(n << " records published, all but the last 4,000 twice");
  CHECK(n > 15000);
  expect_each_once(
      out, n, {""}, [&] { return rig.debug_state() + rig.engine_log(); }, 120s);
  CHECK(rig.stop_engine() == 0);
}
