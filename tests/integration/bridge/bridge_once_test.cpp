// The bridge's promise where JetStream's duplicate window cannot help: the hub flow's window is
// 1 s, outages last far longer, and the hub's sink is a file that keeps every line
// (file_output), so a batch stored twice shows. The link runs with 40 ms of delay each way, so
// that at every cut frames are in flight: stored at the hub, their ack not yet at site A, which
// sends them again after the reconnect.
#include <doctest/doctest.h>

#include <thread>

#include "two_sites.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

LinkOptions file_sink(const std::string& path) {
  LinkOptions o;
  o.hub_settings = R"({"duplicate_window": "1s", "ack_wait": "2s"})";
  o.hub_sink = R"({ "id": "sink", "type": "file_output", "inputs": ["from_sites"], "config": { "path": ")" + path +
               R"(" } })";
  return o;
}

}  // namespace

TEST_CASE("bridge: cut with frames in flight and down 6 s (beyond the hub's 1 s window), three times; each record once") {
  TempDir dir("weir-bridge-once");
  const auto out = dir.file("hub.ndjson");
  TwoSites sites(file_sink(out));
  sites.proxy().set_delay(40ms);
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
  wait_lines(out, n, 180s);
  check_each_once(out, n, {""}, [&] { return sites.logs(); });
}

TEST_CASE("bridge: the hub's nats-server restarted during a 20 s outage; each record once") {
  TempDir dir("weir-bridge-once");
  const auto out = dir.file("hub.ndjson");
  TwoSites sites(file_sink(out));
  sites.proxy().set_delay(40ms);
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
  wait_lines(out, n, 180s);
  check_each_once(out, n, {""}, [&] { return sites.logs(); });
}
