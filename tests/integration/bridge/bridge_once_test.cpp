// The bridge's promise where JetStream's duplicate window cannot help: the hub flow's window is
// 1 s, outages last far longer, and the hub's sink is a file that keeps every line
// (file_output), so a batch stored twice shows. The link runs with 100 ms of delay each way (a
// frame and then its ack take longer than the 100 ms between bursts), so that at every cut
// frames are in flight: stored at the hub, their ack not yet at site A, which sends them again
// after the reconnect.
#include <doctest/doctest.h>

#include <thread>

#include "two_sites.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

LinkOptions file_sink(const std::string& path) {
  LinkOptions o;
  o.hub_settings = R"({"duplicate_window": "1s", "ack_wait": "2s"})";
  o.hub_sink = R"({ "id": "sink", "type": "file_output", "inputs": ["from_sites"], "config": { "path": ")" +
               path + R"(" } })";
  return o;
}

}  // namespace

TEST_CASE(
    "bridge: cut with frames in flight and down 6 s (beyond the hub's 1 s window), three times; each record "
    "once") {
  TempDir dir("weir-bridge-once");
  const auto out = dir.file("hub.ndjson");
  TwoSites sites(file_sink(out));
  sites.proxy().set_delay(100ms);
  sites.start();
  std::uint64_t n = 0;
  {
    PacedSource source(sites.site_a(), 2000);
    for (int k = 0; k < 3; ++k) {
      std::this_thread::sleep_for(3s);
      sites.proxy().set_down(true);  // cuts the link at once, and keeps it down
      std::this_thread::sleep_for(6s);
      sites.proxy().set_down(false);
    }
    std::this_thread::sleep_for(3s);
    n = source.stop();
  }
  MESSAGE(n << " records published at site A");
  expect_each_once(
      out, n, {""}, [&] { return sites.logs(); }, 180s);
}

TEST_CASE("bridge: the hub's nats-server restarted during a 20 s outage; each record once") {
  TempDir dir("weir-bridge-once");
  const auto out = dir.file("hub.ndjson");
  TwoSites sites(file_sink(out));
  sites.proxy().set_delay(100ms);
  sites.start();
  std::uint64_t n = 0;
  {
    PacedSource source(sites.site_a(), 2000);
    std::this_thread::sleep_for(4s);
    sites.proxy().set_down(true);
    std::this_thread::sleep_for(3s);
    sites.hub().server().stop();
    std::this_thread::sleep_for(2s);
    sites.hub().server().start();
    std::this_thread::sleep_for(15s);
    sites.proxy().set_down(false);
    std::this_thread::sleep_for(4s);
    n = source.stop();
  }
  MESSAGE(n << " records published at site A");
  expect_each_once(
      out, n, {""}, [&] { return sites.logs(); }, 180s);
}

TEST_CASE(
    "a reload removes the component in front of a bridge output whose hub is down: the backlog arrives, "
    "once") {
  TempDir dir("weir-bridge-once");
  const auto out = dir.file("hub.ndjson");
  TwoSites sites(file_sink(out));
  auto uplink = [&](bool with_shape) {
    return R"({"version": 1, "name": "uplink", "settings": {"duplicate_window": "1s", "ack_wait": "2s"},
      "components": [
        {"id": "src", "type": "nats_input", "config": {"subject": "src.data", "stream": "SRC", "ack_wait": "2s"}},)" +
           std::string(with_shape ? R"(
        {"id": "shape", "type": "json_map", "inputs": ["src"], "config": {"set": {"f": "value * 2"}}},)"
                                  : "") +
           R"(
        {"id": "link", "type": "websocket_output", "inputs": [")" +
           (with_shape ? "shape" : "src") + R"("], "config": {"mode": "connect", "url": "ws://127.0.0.1:)" +
           std::to_string(sites.proxy().port()) +
           R"(/bridge", "token": "s3cret-token", "site": "site-a", "heartbeat": "500ms", "reconnect_max": "1s"}}]})";
  };
  constexpr std::uint64_t n = 3000;
  sites.site_a().write_flow("uplink.json", uplink(true));
  sites.proxy().set_down(true);  // the hub cannot be reached: records wait in front of the link
  sites.start();
  sites.site_a().publish_source(0, n);
  REQUIRE(wait_until([&] { return sites.site_a().stream_messages("WEIR_UPLINK") > 0; }, 30s, 50ms));
  std::this_thread::sleep_for(2s);
  sites.site_a().write_flow("uplink.json", uplink(false));
  CHECK_MESSAGE(
      wait_until([&] { return sites.site_a().engine_log().find("batches waiting on") != std::string::npos; },
                 20s, 50ms),
      sites.logs());
  CHECK(count_lines(out) == 0);
  sites.proxy().set_down(false);
  expect_each_once(
      out, n, {""}, [&] { return sites.logs(); }, 180s);
}
