// Exactly once in the field, end to end with the real binary: a live, paced source keeps
// publishing while the engine is killed, and the sink is a file that keeps every line it is
// given (file_output, exactly once itself): a duplicate anywhere on the path shows as a second
// line. The flows' duplicate window is the smallest allowed (1 s), far below ack_wait plus a
// restart, so JetStream's window cannot be what drops the replays.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <thread>

#include "http/client.hpp"
#include "rig.hpp"
#include "support/tcp_proxy.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

std::string flow(const std::string& out, bool fan) {
  const std::string settings = R"("settings": {"duplicate_window": "1s", "ack_wait": "2s"})";
  const std::string input =
      R"({"id": "src", "type": "nats_input", "config": {"subject": "src.>", "stream": "SRC", "ack_wait": "2s"}})";
  if (!fan)
    return R"({"version": 1, "name": "once", )" + settings + R"(, "components": [)" + input + R"(,
      {"id": "shape", "type": "json_map", "inputs": ["src"], "config": {"set": {"f": "value * 2"}}},
      {"id": "sink", "type": "file_output", "inputs": ["shape"], "config": {"path": ")" +
           out + R"("}}]})";
  return R"({"version": 1, "name": "once", )" + settings + R"(, "components": [)" + input + R"(,
      {"id": "a", "type": "json_map", "inputs": ["src"], "config": {"set": {"branch": "\"a\""}}},
      {"id": "b", "type": "json_map", "inputs": ["src"], "config": {"set": {"branch": "\"b\""}}},
      {"id": "sink", "type": "file_output", "inputs": ["a", "b"], "config": {"path": ")" +
         out + R"("}},
      {"id": "copy", "type": "nats_output", "inputs": ["a", "b"], "config": {"subject": "out.data"}}]})";
}

}  // namespace

// The engine reaches nats-server through a proxy that delays every chunk by 40 ms, both ways:
// each batch then spends most of its time stored and not yet acknowledged (the PubAck and the
// ack are still on their way), so a kill lands in that crash window instead of rarely.
std::unique_ptr<TcpProxy> slow_link(EngineRig& rig) {
  auto proxy = std::make_unique<TcpProxy>("127.0.0.1", static_cast<std::uint16_t>(rig.server().port()));
  proxy->set_delay(40ms);
  rig.route_engine_through(proxy->port());
  return proxy;
}

void kill_with_work_in_flight(EngineRig& rig, TcpProxy& proxy) {
  rig.kill_engine();
  proxy.cut();
}

TEST_CASE("a live source at 2,000 records/s while the engine is SIGKILLed three times: each record once") {
  EngineRig rig;
  rig.create_streams();
  auto proxy = slow_link(rig);
  const auto out = rig.dir() + "/once.ndjson";
  rig.write_flow("once.json", flow(out, false));
  rig.start_engine();
  std::uint64_t n = 0;
  {
    PacedSource source(rig, 2000);
    // After a restart the engine starts (about 1.5 s) and its stages wait ack_wait × 1.25 + 1 s
    // (3.5 s) for what the killed run left unacknowledged: each kill comes about 2 s after that,
    // while the stages work through the backlog and the live records.
    for (int k = 0; k < 3; ++k) {
      std::this_thread::sleep_for(7s);
      kill_with_work_in_flight(rig, *proxy);
      std::this_thread::sleep_for(500ms);
      rig.start_engine();
    }
    std::this_thread::sleep_for(3s);
    n = source.stop();
  }
  MESSAGE(n << " records published");
  CHECK(n > 15000);
  expect_each_once(
      out, n, {""}, [&] { return rig.debug_state() + rig.engine_log(); }, 120s);
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("fan-out then fan-in: both branches arrive, each record once per branch, also at nats_output") {
  EngineRig rig;
  rig.create_streams();
  auto proxy = slow_link(rig);
  const auto out = rig.dir() + "/fan.ndjson";
  rig.write_flow("once.json", flow(out, true));
  rig.start_engine();
  std::uint64_t n = 0;
  {
    PacedSource source(rig, 2000);
    std::this_thread::sleep_for(3s);
    kill_with_work_in_flight(rig, *proxy);
    rig.start_engine();
    std::this_thread::sleep_for(3s);
    n = source.stop();
  }
  expect_each_once(
      out, n, {"a", "b"}, [&] { return rig.debug_state() + rig.engine_log(); }, 120s);
  // nats_output publishes each record with its id: ids differ per branch, so the OUT stream's
  // duplicate window (5 min) keeps both branches.
  CHECK(rig.wait_out(2 * n, 60s) == 2 * n);
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE(
    "max_bytes 1MiB, a fast input and a slower output: everything arrives once, the stall is reported") {
  EngineRig rig;
  rig.create_streams();
  const auto out = rig.dir() + "/full.ndjson";
  constexpr std::uint64_t n = 4000;
  rig.publish_source(0, n, 400);  // 1.7 MB waiting: more than the flow's stream may hold
  // The output syncs every line (about 3 ms each here): far slower than the input.
  rig.write_flow("full.json", R"({"version": 1, "name": "full",
    "settings": {"max_bytes": "1MiB", "discard": "new", "ack_wait": "2s"},
    "components": [
      {"id": "src", "type": "nats_input", "config": {"subject": "src.>", "stream": "SRC", "ack_wait": "2s"}},
      {"id": "shape", "type": "json_map", "inputs": ["src"], "config": {"set": {"f": "value * 2"}}},
      {"id": "sink", "type": "file_output", "inputs": ["shape"], "config": {"path": ")" +
                                  out + R"(", "fsync": "always"}}]})");
  rig.start_engine();
  // The stall shows while it lasts: the input is degraded in the API, with the reason, and logged.
  std::string seen;
  bool degraded = wait_until(
      [&] {
        seen = weir::http::request("GET", rig.api(), "/api/v1/flows/full").body;
        return seen.find(R"("state":"degraded","error":"held back)") != std::string::npos;
      },
      60s, 20ms);
  CHECK_MESSAGE(degraded, seen);
  CHECK(rig.engine_log().find("held back") != std::string::npos);
  expect_each_once(
      out, n, {""}, [&] { return rig.debug_state() + rig.engine_log(); }, 300s, 3s);
  CHECK(rig.engine_log().find("room again") != std::string::npos);
  CHECK(rig.stop_engine() == 0);
}
