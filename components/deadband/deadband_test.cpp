#include <doctest/doctest.h>

#include "support/keyed_testing.hpp"

using namespace weir;
using testing::Keyed;
using testing::parse_config;
using testing::Step;

namespace {
constexpr std::size_t out = 0, dropped = 1;

std::string v(const char* key, double value) {
  return std::string(R"({"k": ")") + key + "\", \"v\": " + sdk::to_json(boost::json::value(value)) + "}";
}

std::vector<std::string> values(const Keyed& d) {
  std::vector<std::string> got;
  for (const auto& l : d.out.lines)
    if (l.starts_with("0 ")) got.push_back(l.substr(l.find(' ', 2) + 1));
  return got;
}
}  // namespace

TEST_CASE(
    "deadband: the README example parses; value is required; heartbeat_emit needs a heartbeat and the "
    "clock") {
  auto p = parse_config("deadband", R"({"key": "sensor", "value": "value", "band": 0.5})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(
      testing::has_diag(parse_config("deadband", "{}").diags, "missing_field", "/components/0/config/value"));
  CHECK(testing::has_diag(parse_config("deadband", R"({"value": "v", "heartbeat_emit": true})").diags,
                          "invalid_value", "/components/0/config/heartbeat_emit"));
  CHECK(testing::has_diag(
      parse_config("deadband", R"({"value": "v", "heartbeat": "1s", "heartbeat_emit": true, "time": "ts"})")
          .diags,
      "invalid_value", "/components/0/config/heartbeat_emit"));
}

TEST_CASE("deadband: an absolute band around the last passed value, per key") {
  Keyed d("deadband", R"({"key": "k", "value": "v", "band": 0.5, "emit_dropped": true})");
  d.record(0, v("a", 10));    // r1 first: passes
  d.record(0, v("a", 10.4));  // r2 dropped
  d.record(0, v("a", 10.5));  // r3 exactly the band: dropped (it must be above)
  d.record(0, v("a", 10.6));  // r4 0.6 from 10: passes
  d.record(0, v("b", 10.6));  // r5 first of b
  d.record(0, v("a", 10.2));  // r6 0.4 from 10.6: dropped
  d.record(0, v("a", 10.0));  // r7 0.6 below: passes
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r4", "r5", "r7"});
  CHECK(d.out.ids(dropped) == std::vector<std::string>{"r2", "r3", "r6"});
  CHECK(testing::metric(*d.p, "dropped") == 3);
  CHECK(testing::metric(*d.p, "state_keys") == 2);
}

TEST_CASE("deadband: a relative band; from a last value of zero any change passes") {
  Keyed d("deadband", R"({"key": "k", "value": "v", "band_percent": 10})");
  d.record(0, v("a", 100));
  d.record(0, v("a", 109));  // 9 %: dropped
  d.record(0, v("a", 111));  // 11 %: passes
  d.record(0, v("a", 100));  // 11 of 111 is 9.9 %: dropped
  d.record(0, v("z", 0));
  d.record(0, v("z", 0));      // no change: dropped
  d.record(0, v("z", 0.001));  // any change from 0
  d.record(0, v("n", -50));
  d.record(0, v("n", -56));  // 12 % of |-50|
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r3", "r5", "r7", "r8", "r9"});
}

TEST_CASE("deadband: both bands: either passes; neither: any change passes") {
  Keyed both("deadband", R"({"value": "v", "band": 5, "band_percent": 50})");
  both.record(0, v("a", 100));
  both.record(0, v("a", 106));  // above the absolute band
  both.record(0, v("a", 4));
  both.record(0, v("a", 7));  // 3 is below 5, but above 50 % of 4
  CHECK(both.out.ids(out) == std::vector<std::string>{"r1", "r2", "r3", "r4"});
  Keyed any("deadband", R"({"value": "v"})");
  for (double x : {1.0, 1.0, 1.5, 1.5, 1.0}) any.record(0, v("a", x));
  CHECK(any.out.ids(out) == std::vector<std::string>{"r1", "r3", "r5"});
}

TEST_CASE("deadband: a value that is not a number goes to error with the reason") {
  Keyed d("deadband", R"({"value": "v"})");
  d.record(0, R"({"v": "12"})");
  d.record(0, R"({"w": 1})");
  d.record(0, R"({"v": 3})");
  REQUIRE(d.out.lines.size() == 3);
  CHECK(d.out.lines[0] == "error r1 value: a string is not a number");
  CHECK(d.out.lines[1] == "error r2 value: null is not a number");
  CHECK(d.out.lines[2].starts_with("0 r3 "));
}

TEST_CASE("deadband: heartbeat passes a record when that much time passed since the key's last one") {
  Keyed d("deadband", R"({"key": "k", "value": "v", "band": 100, "heartbeat": "10s", "time": "ts"})");
  d.record(0, R"({"k": "a", "v": 1, "ts": 0})");      // r1 first
  d.record(0, R"({"k": "a", "v": 2, "ts": 5000})");   // r2 dropped
  d.record(0, R"({"k": "a", "v": 3, "ts": 10000})");  // r3 10 s since r1: passes
  d.record(0, R"({"k": "a", "v": 4, "ts": 19999})");  // r4 dropped
  d.record(0, R"({"k": "a", "v": 4, "ts": 8000})");   // r5 older than the last pass: dropped
  d.record(0, R"({"k": "a", "v": 5, "ts": 20000})");  // r6
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r3", "r6"});
}

TEST_CASE("deadband: heartbeat_emit reports a silent key again from the clock, once per key and moment") {
  Keyed d("deadband",
          R"({"key": "k", "value": "v", "band": 100, "heartbeat": "10s", "heartbeat_emit": true})");
  CHECK(d.p->tick_interval() == std::chrono::milliseconds(1000));
  d.record(1000, v("a", 1));   // r1
  d.record(4000, v("b", 7));   // r2
  d.step({9000, ""});          // nothing due
  d.step({25000, ""});         // a: 21000 (11000 skipped, not due twice); b: 24000
  d.record(26000, v("a", 1));  // r3 5 s after a's heartbeat: dropped
  d.step({31000, ""});         // a: 31000
  d.step({31500, ""});         // nothing new
  CHECK(d.out.lines == std::vector<std::string>{
                           R"(0 r1 {"k":"a","v":1.0})",
                           R"(0 r2 {"k":"b","v":7.0})",
                           R"(0 r1@heartbeat:21000 {"k":"a","v":1.0} @21000)",
                           R"(0 r2@heartbeat:24000 {"k":"b","v":7.0} @24000)",
                           R"(0 r1@heartbeat:31000 {"k":"a","v":1.0} @31000)",
                       });
  CHECK(testing::metric(*d.p, "heartbeats") == 3);
  CHECK(testing::metric(*d.p, "dropped") == 1);
}

TEST_CASE("deadband: at max_keys the least recently seen key goes; its next record passes as a first one") {
  Keyed d("deadband", R"({"key": "k", "value": "v", "band": 10, "max_keys": 1})");
  d.record(0, v("a", 1));
  d.record(0, v("b", 1));
  d.record(0, v("a", 2));
  CHECK(values(d).size() == 3);
  CHECK(testing::metric(*d.p, "evicted") == 2);
}

TEST_CASE("deadband: save, load into a fresh instance, go on: the results of an unbroken run") {
  std::vector<Step> steps;
  const char* keys[] = {"a", "b", "a", "a", "c", "a", "b", "d", "a", "b"};
  const double vals[] = {1, 2, 1.4, 1.6, 3, 0.1, 2.9, 4, 0.1, 2.2};
  for (int i = 0; i < 10; ++i) {
    steps.push_back({i * 3000, v(keys[i], vals[i])});
    if (i % 3 == 2) steps.push_back({i * 3000 + 1500, ""});
  }
  testing::check_resume(
      "deadband", R"({"key": "k", "value": "v", "band": 0.5, "max_keys": 3, "emit_dropped": true})", steps);
  testing::check_resume(
      "deadband",
      R"({"key": "k", "value": "v", "band_percent": 20, "heartbeat": "5s", "heartbeat_emit": true})", steps);
}

TEST_CASE("deadband: load() of garbage or of another config's state fails cleanly") {
  testing::check_bad_states("deadband", R"({"key": "k", "value": "v", "band": 1})",
                            R"({"key": "k", "value": "v", "band": 2})", v("a", 1));
  testing::check_bad_states("deadband",
                            R"({"key": "k", "value": "v", "heartbeat": "5s", "heartbeat_emit": true})",
                            R"({"key": "k", "value": "v", "heartbeat": "5s"})", v("a", 1));
}
