// The site bridge end to end: two engines, two nats-servers and a fault-injecting proxy on the
// link. Nothing lost, nothing duplicated, in order: across link cuts, a long outage, and either
// engine killed with SIGKILL.
#include <doctest/doctest.h>

#include <random>
#include <thread>

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

}  // namespace

TEST_CASE("bridge: 100,000 records while the link is cut 20 times arrive exactly once, in order") {
  constexpr std::uint64_t total = 100000;
  TwoSites sites;
  sites.site_a().publish_source(0, total);
  sites.start();
  std::mt19937 rng(20261122);
  std::uniform_int_distribution<int> pause_ms(50, 400);
  int cuts = 0;
  while (cuts < 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    sites.proxy().cut();
    ++cuts;
  }
  MESSAGE("cuts done with " << sites.hub().out_count() << " records at the hub, " << sites.proxy().accepted()
                            << " connections so far");
  wait_delivered(sites, total, 300s);
  sites.check_exactly_once(total);
  CHECK(sites.proxy().accepted() >= 20);
}

TEST_CASE("bridge: 30 s of link down while site A produces 50,000 records; all arrive once and A's stream drains") {
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
  const auto log = sites.site_a().engine_log();
  std::size_t cannot_reach = 0;
  for (auto p = log.find("cannot reach"); p != std::string::npos; p = log.find("cannot reach", p + 1)) ++cannot_reach;
  CHECK(cannot_reach == 1);
}

TEST_CASE("bridge: the hub and then site A killed with SIGKILL mid-stream; exactly once both times") {
  constexpr std::uint64_t total = 60000;
  TwoSites sites;
  sites.site_a().publish_source(0, total);
  sites.start();
  sites.hub().wait_out(15000, 120s);
  sites.hub().kill_engine();
  std::this_thread::sleep_for(1s);
  sites.hub().start_engine();
  sites.hub().wait_out(35000, 120s);
  sites.site_a().kill_engine();
  std::this_thread::sleep_for(1s);
  sites.site_a().start_engine();
  wait_delivered(sites, total, 300s);
  sites.check_exactly_once(total);
}

TEST_CASE("bridge: a wrong token gets HTTP 401, is logged on both sides, and nothing is delivered") {
  LinkOptions o;
  o.site_a_token = "wrong-token";
  TwoSites sites(o);
  sites.site_a().publish_source(0, 1000);
  sites.start();
  CHECK(wait_until([&] { return sites.hub().engine_log().find("HTTP 401") != std::string::npos; }, 30s, 100ms));
  CHECK(wait_until([&] { return sites.site_a().engine_log().find("401") != std::string::npos; }, 30s, 100ms));
  std::this_thread::sleep_for(2s);
  CHECK(sites.hub().out_count() == 0);
  CHECK(sites.hub().engine_log().find("wrong-token") == std::string::npos);  // never logged
}
