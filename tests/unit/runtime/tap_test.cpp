// TapHub: what a tap sees, how it is sampled, and how it ends.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "runtime/tap.hpp"

using weir::runtime::TapHub;

namespace {

weir::sdk::Record rec(int n) {
  return {"r" + std::to_string(n), boost::json::object{{"n", n}}};
}

}  // namespace

TEST_CASE("tap: only the tapped component and port are delivered, as {id, value}") {
  auto hub = std::make_shared<TapHub>(3);
  CHECK_FALSE(hub->active(1));
  std::vector<std::string> got;
  auto sub = hub->subscribe(1, 0,
                            [&](std::string s) {
                              got.push_back(std::move(s));
                              return true;
                            },
                            {});
  REQUIRE(sub);
  CHECK(hub->active(1));
  CHECK_FALSE(hub->active(0));
  hub->offer(1, 0, rec(1));
  hub->offer(1, 1, rec(2));  // another port of the same component
  hub->offer(0, 0, rec(3));  // another component
  REQUIRE(got.size() == 1);
  auto v = boost::json::parse(got[0]);
  CHECK(v.at("id") == "r1");
  CHECK(v.at("value").at("n") == 1);
  CHECK(sub->stats().offered == 1);
  CHECK(sub->stats().sent == 1);
  sub.reset();  // unsubscribing makes the component cheap again
  CHECK_FALSE(hub->active(1));
  hub->offer(1, 0, rec(4));
  CHECK(got.size() == 1);
  CHECK(hub->subscribe(7, 0, [](std::string) { return true; }, {}) == nullptr);  // no such component
}

TEST_CASE("tap: numbers are written as every output writes them (83.7, not 8.37E1)") {
  auto hub = std::make_shared<TapHub>(1);
  std::vector<std::string> got;
  auto sub = hub->subscribe(0, 0,
                            [&](std::string s) {
                              got.push_back(std::move(s));
                              return true;
                            },
                            {});
  REQUIRE(sub);
  hub->offer(0, 0, {"r", boost::json::object{{"v", 83.7}, {"w", 140.0}, {"n", 64}}});
  REQUIRE(got.size() == 1);
  CHECK(got[0] == R"({"id":"r","value":{"v":83.7,"w":140.0,"n":64}})");
}

TEST_CASE("tap: sampled to max_per_second, and refusals are counted, never retried") {
  auto hub = std::make_shared<TapHub>(1);
  std::size_t taken = 0;
  bool accept = true;
  auto sub = hub->subscribe(
      0, 0,
      [&](std::string) {
        if (accept) ++taken;
        return accept;
      },
      {}, 10);
  for (int i = 0; i < 1000; ++i) hub->offer(0, 0, rec(i));  // well within one second
  CHECK(taken == 10);
  CHECK(sub->stats().offered == 1000);
  CHECK(sub->stats().sent == 10);
  CHECK(sub->stats().sampled_out == 990);

  auto hub2 = std::make_shared<TapHub>(1);
  accept = false;  // a client that is behind
  auto sub2 = hub2->subscribe(
      0, 0, [&](std::string) { return accept; }, {}, 1000);
  for (int i = 0; i < 5; ++i) hub2->offer(0, 0, rec(i));
  CHECK(sub2->stats().sent == 0);
  CHECK(sub2->stats().sampled_out == 5);
}

TEST_CASE("tap: when the hub goes (the flow is redeployed), each tap is told once; handles outlive it") {
  auto hub = std::make_shared<TapHub>(2);
  int ended = 0;
  auto a = hub->subscribe(
      0, 0, [](std::string) { return true; }, [&] { ++ended; });
  auto b = hub->subscribe(
      1, 0, [](std::string) { return true; }, [&] { ++ended; });
  hub.reset();
  CHECK(ended == 2);
  a.reset();  // no hub any more: nothing to unsubscribe from, and no crash
  b.reset();
  CHECK(ended == 2);
}
