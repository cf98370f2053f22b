// The site bridge end to end: two engines, two nats-servers and a fault-injecting proxy on the
// link. Nothing lost, nothing duplicated, in order: across link cuts, a long outage, and either
// engine killed with SIGKILL.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <thread>

#include "http/client.hpp"
#include "two_sites.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// Waits for `n` records at the hub; on a timeout the failure shows both engines' logs.
void wait_delivered(TwoSites& sites, std::uint64_t n, std::chrono::seconds deadline) {
  const auto got = sites.hub().wait_out(n, deadline);
  REQUIRE_MESSAGE(got == n, "hub holds " << got << " of " << n << "\n"
                                         << sites.site_a().debug_state() << sites.logs());
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("bridge: 100,000 records while the link is cut 20 times arrive exactly once, in order") {
  constexpr std::uint64_t total = 100000;
  TwoSites sites;
  sites.site_a().publish_source(0, total);
  // The link is cut when the hub holds a random number of records: 20 moments spread over the
  // transfer. Halfway the link also stalls for 2 s (a black hole the heartbeat must notice) and
  // then runs with 20 ms of delay each way for a while.
  std::mt19937 rng(20261122);
  std::uniform_int_distribution<std::uint64_t> at(1000, total - 2000);
  std::vector<std::uint64_t> moments;
  for (int i = 0; i < 21; ++i) moments.push_back(at(rng));  // 20 cuts and a stall
  std::sort(moments.begin(), moments.end());
  sites.start();
  int cuts = 0;
  bool stalled = false;
  std::size_t connections = 0;
  std::string log_before_cut;
  for (auto m : moments) {
    // The hub's count lags the link (its own stages drain after a cut): wait for the next
    // connection too, so that every fault hits a live link.
    if (!wait_until([&] { return sites.proxy().accepted() > connections && sites.proxy().active() > 0; }, 60s,
                    1ms) ||
        !wait_until([&] { return sites.hub().out_count() >= m; }, 120s, 5ms))
      break;
    connections = sites.proxy().accepted();
    if (!stalled && m > total / 2) {
      // A black hole: nothing passes, nothing closes. Only the heartbeat can tell. (On a link
      // that is up: a stalled handshake would end by the open timeout instead.)
      stalled = true;
      wait_until(
          [&] { return count(sites.site_a().engine_log(), "link up") > count(log_before_cut, "link up"); },
          30s, 5ms);
      sites.proxy().set_stalled(true);
      std::this_thread::sleep_for(2500ms);
      sites.proxy().set_stalled(false);
      sites.proxy().set_delay(20ms);
      continue;
    }
    log_before_cut = sites.site_a().engine_log();
    sites.proxy().cut();
    ++cuts;
    if (cuts == 15) sites.proxy().set_delay(0ms);
  }
  CHECK(cuts == 20);
  CHECK(stalled);
  wait_delivered(sites, total, 300s);
  sites.check_exactly_once(total);
  CHECK(sites.proxy().accepted() >= 20);
  // The stall was noticed by the heartbeat (3 x 500 ms), not only by the cut that followed.
  CHECK_MESSAGE(sites.site_a().engine_log().find("heartbeat") != std::string::npos, sites.logs());
}

TEST_CASE(
    "bridge: 30 s of link down while site A produces 50,000 records; all arrive once and A's stream drains") {
  constexpr std::uint64_t total = 50000;
  TwoSites sites;
  sites.proxy().set_down(true);
  sites.start();
  sites.site_a().publish_source(0, total);
  std::this_thread::sleep_for(30s);
  CHECK(sites.hub().out_count() == 0);
  CHECK(sites.site_a().stream_messages("WEIR_UPLINK") > 0);
  sites.proxy().set_down(false);
  wait_delivered(sites, total, 300s);
  sites.check_exactly_once(total);
  // Interest retention: once the peer confirmed everything, site A's flow stream empties.
  std::uint64_t left = 0;
  wait_until([&] { return (left = sites.site_a().stream_messages("WEIR_UPLINK")) == 0; }, 120s, 200ms);
  CHECK_MESSAGE(left == 0, "site A's stream still holds " << left << "\n" << sites.site_a().debug_state());
  // Link state is logged once per transition, not per retry.
  CHECK(count(sites.site_a().engine_log(), "cannot reach") == 1);
}

TEST_CASE("bridge: the hub and then site A killed with SIGKILL mid-stream; exactly once both times") {
  constexpr std::uint64_t total = 60000;
  TwoSites sites;
  sites.site_a().publish_source(0, total);
  sites.start();
  sites.hub().wait_out(15000, 120s);
  sites.hub().kill_engine();
  const auto at_hub_kill = sites.hub().out_count();
  std::this_thread::sleep_for(1s);
  sites.hub().start_engine();
  sites.hub().wait_out(35000, 120s);
  sites.site_a().kill_engine();
  const auto at_a_kill = sites.hub().out_count();
  // Both kills hit the stream in the middle, not after it.
  CHECK(at_hub_kill < total);
  CHECK(at_a_kill < total);
  MESSAGE("hub killed at " << at_hub_kill << ", site A killed at " << at_a_kill << " of " << total);
  std::this_thread::sleep_for(1s);
  sites.site_a().start_engine();
  wait_delivered(sites, total, 300s);
  sites.check_exactly_once(total, /*ordered=*/false);
}

TEST_CASE("bridge: a wrong token gets HTTP 401, is logged on both sides, and nothing is delivered") {
  LinkOptions o;
  o.site_a_token = "wrong-token";
  TwoSites sites(o);
  sites.site_a().publish_source(0, 1000);
  sites.start();
  CHECK(
      wait_until([&] { return sites.hub().engine_log().find("HTTP 401") != std::string::npos; }, 30s, 100ms));
  CHECK(wait_until([&] { return sites.site_a().engine_log().find("401") != std::string::npos; }, 30s, 100ms));
  std::this_thread::sleep_for(2s);
  CHECK(sites.hub().out_count() == 0);
  CHECK(sites.hub().engine_log().find("wrong-token") == std::string::npos);  // never logged
}

TEST_CASE("bridge: the hub's websocket_input can be tapped; what it receives shows in weir tap") {
  TwoSites sites;
  sites.start();
  REQUIRE(wait_until([&] { return weir::http::request("GET", sites.hub().api(), "/ready").status == 200; },
                     30s, 100ms));
  const auto out_file = sites.hub().dir() + "/tap.out";
  ChildProcess tap({weir_binary(), "tap", "hub", "from_sites", "--count", "3", "--api", sites.hub().api()},
                   out_file);
  auto records = [&] {
    std::ifstream in(out_file);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.rfind("{\"id\"", 0) == 0;
    return n;
  };
  std::uint64_t sent = 0;
  CHECK(wait_until(
      [&] {
        sites.site_a().publish_source(sent, sent + 50);
        sent += 50;
        return records() >= 3;
      },
      30s, 200ms));
  REQUIRE(wait_until([&] { return !tap.running(); }, 20s, 50ms));
  CHECK(tap.terminate() == 0);
  CHECK(records() == 3);
  CHECK(sites.hub().wait_out(sent, 30s) == sent);  // tapping took nothing away
  sites.check_exactly_once(sent);
}
