#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "sdk/state.hpp"
#include "support/component_testing.hpp"
#include "window/event_time.hpp"
#include "window/sketch.hpp"

using namespace weir;
using testing::parse_config;
namespace json = boost::json;

namespace {

struct FakeClock : sdk::Clock {
  sdk::Millis t = 0;
  sdk::Millis now() const override { return t; }
};

// Keeps what the window emits; checks that emit_at's moments never go back.
struct Captured : sdk::TimedEmitter {
  struct Result {
    sdk::Millis at;
    sdk::Record rec;
  };
  std::vector<Result> results;
  std::vector<sdk::Record> late;
  std::vector<std::pair<sdk::Record, std::string>> failed;
  void emit(sdk::Port port, sdk::Record&& rec) override {
    CHECK(port.index() == 1);  // plain emit is for the late port only
    late.push_back(std::move(rec));
  }
  void emit_at(sdk::Millis at, sdk::Port port, sdk::Record&& rec) override {
    CHECK(port.index() == 0);
    if (!results.empty()) CHECK(at >= results.back().at);
    results.push_back({at, std::move(rec)});
  }
  void fail(sdk::Record&& rec, std::string_view reason) override {
    failed.emplace_back(std::move(rec), reason);
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& r : results)
      out.push_back(std::to_string(r.at) + " " + r.rec.id + " " + json::serialize(r.rec.value));
    return out;
  }
};

// A window with its clock and what it emitted.
struct Harness {
  FakeClock clock;
  Captured out;
  std::unique_ptr<sdk::StatefulProcessor> w;
  int n = 0;

  explicit Harness(const std::string& config) { reset(config); }
  void reset(const std::string& config) {
    w = testing::create<sdk::StatefulProcessor>(parse_config("window", config));
    w->set_clock(&clock);
    REQUIRE(w->start().is_ok());
  }
  // A record at processing time `at` (the clock).
  void feed(const std::string& value, sdk::Millis at = -1) {
    if (at >= 0) clock.t = at;
    w->process(testing::rec(value, "r" + std::to_string(n++)), out);
  }
  void advance(sdk::Millis to) {
    clock.t = to;
    w->advance(to, out);
  }
  json::value result(std::size_t i) const { return out.results.at(i).rec.value; }
};

json::value j(const char* text) {
  return json::parse(text);
}

const char* tumbling = R"({"kind": "tumbling", "size": "1s", "time": "ts", "group_by": {"k": "k"},
                           "aggregates": {"total": {"fn": "sum", "of": "v"}}})";

}  // namespace

TEST_CASE("window: the README example parses") {
  auto p = parse_config("window",
                        R"({"kind": "tumbling", "size": "1m", "time": "ts", "group_by": {"sensor": "sensor"},
    "aggregates": {"avg_temp": {"fn": "avg", "of": "temp"}, "p95_temp": {"fn": "percentile", "of": "temp", "p": 0.95}},
    "allowed_lateness": "5s"})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
}

TEST_CASE("window: config errors at their pointers") {
  CHECK(testing::has_diag(parse_config("window", R"({"kind": "tumbling"})").diags, "missing_field",
                          "/components/0/config/size"));
  CHECK(testing::has_diag(parse_config("window", R"({"kind": "session"})").diags, "missing_field",
                          "/components/0/config/gap"));
  CHECK(testing::has_diag(parse_config("window", R"({"kind": "hopping", "size": "1s", "hop": "2s"})").diags,
                          "invalid_value", "/components/0/config/hop"));
  CHECK(testing::has_diag(parse_config("window", R"({"kind": "hopping", "size": "1s", "hop": "5ms"})").diags,
                          "invalid_value", "/components/0/config/hop"));
  CHECK(testing::has_diag(parse_config("window", R"({"size": "1s", "gap": "1s"})").diags, "invalid_value",
                          "/components/0/config/gap"));
  CHECK(testing::has_diag(parse_config("window", R"({"size": "1s", "sise": 2})").diags, "unknown_field",
                          "/components/0/config/sise"));
  CHECK(testing::has_diag(parse_config("window", R"({"size": "1s", "accuracy": 0.5})").diags, "out_of_range",
                          "/components/0/config/accuracy"));
  CHECK(
      testing::has_diag(parse_config("window", R"({"size": "1s", "aggregates": {"m": {"fn": "max"}}})").diags,
                        "missing_field", "/components/0/config/aggregates/m/of"));
  CHECK(testing::has_diag(
      parse_config("window", R"({"size": "1s", "aggregates": {"m": {"fn": "median", "of": "v"}}})").diags,
      "invalid_value", "/components/0/config/aggregates/m/fn"));
  CHECK(testing::has_diag(
      parse_config("window",
                   R"({"size": "1s", "group_by": {"k": "k"}, "aggregates": {"k": {"fn": "count"}}})")
          .diags,
      "invalid_value", "/components/0/config/aggregates"));
  CHECK(testing::has_diag(parse_config("window", R"({"size": "1s", "group_by": {"count": "k"}})").diags,
                          "invalid_value", "/components/0/config/group_by"));
  CHECK(testing::has_diag(parse_config("window", R"({"size": "1s", "time": "ts +"})").diags, "bad_expression",
                          "/components/0/config/time"));
}

TEST_CASE("window: a tumbling window closes when the watermark reaches its end, in order of end then key") {
  Harness h(tumbling);
  h.feed(R"({"k": "b", "v": 1, "ts": 1100})");
  h.feed(R"({"k": "a", "v": 2, "ts": 1500})");
  h.feed(R"({"k": "a", "v": 3, "ts": 1999})");
  CHECK(h.out.results.empty());  // watermark 1999 < 2000
  h.feed(R"({"k": "a", "v": 10, "ts": 2000})");
  REQUIRE(h.out.results.size() == 2);
  CHECK(h.out.results[0].at == 2000);
  CHECK(h.out.results[0].rec.id == R"(["a"]@1000)");
  CHECK(h.result(0) == j(R"({"k": "a", "window_start": 1000, "window_end": 2000, "count": 2, "total": 5})"));
  CHECK(h.out.results[1].rec.id == R"(["b"]@1000)");
  CHECK(h.result(1) == j(R"({"k": "b", "window_start": 1000, "window_end": 2000, "count": 1, "total": 1})"));
  CHECK(h.w->state_size().keys == 1);
  CHECK(testing::metric(*h.w, "windows_closed") == 2);
}

TEST_CASE(
    "window: a record for a closed window goes to late with the window; allowed_lateness keeps it open") {
  Harness h(tumbling);
  h.feed(R"({"k": "a", "v": 1, "ts": 1500})");
  h.feed(R"({"k": "a", "v": 1, "ts": 2100})");
  REQUIRE(h.out.results.size() == 1);
  h.feed(R"({"k": "a", "v": 7, "ts": 1900})");
  REQUIRE(h.out.late.size() == 1);
  const auto& late = h.out.late[0].value.as_object();
  CHECK(h.out.late[0].id == "r2");
  CHECK(late.at("missed") == j(R"([{"window_start": 1000, "window_end": 2000}])"));
  CHECK(late.at("watermark") == 2100);
  CHECK(late.at("counted") == false);
  CHECK(late.at("record") == j(R"({"k": "a", "v": 7, "ts": 1900})"));
  CHECK(testing::metric(*h.w, "late") == 1);
  CHECK(h.out.results.size() == 1);

  Harness lax(
      R"({"size": "1s", "time": "ts", "allowed_lateness": "500ms", "aggregates": {"s": {"fn": "sum", "of": "v"}}})");
  lax.feed(R"({"v": 1, "ts": 1500})");
  lax.feed(R"({"v": 1, "ts": 2100})");  // watermark 1600: [1000, 2000) still open
  lax.feed(R"({"v": 5, "ts": 1900})");
  CHECK(lax.out.late.empty());
  lax.feed(R"({"v": 1, "ts": 2500})");
  REQUIRE(lax.out.results.size() == 1);
  CHECK(lax.result(0) == j(R"({"window_start": 1000, "window_end": 2000, "count": 2, "s": 6})"));
}

TEST_CASE("window: hopping windows overlap; a record partly late is counted where still open") {
  Harness h(
      R"({"kind": "hopping", "size": "3s", "hop": "1s", "time": "ts", "aggregates": {"s": {"fn": "sum", "of": "v"}}})");
  h.feed(R"({"v": 1, "ts": 2500})");   // in [0,3000) [1000,4000) [2000,5000)
  h.feed(R"({"v": 10, "ts": 3500})");  // in [1000,4000) [2000,5000) [3000,6000); closes [0,3000)
  REQUIRE(h.out.results.size() == 1);
  CHECK(h.result(0) == j(R"({"window_start": 0, "window_end": 3000, "count": 1, "s": 1})"));
  h.feed(R"({"v": 100, "ts": 2900})");  // [0,3000) closed: late, yet counted in the two still open
  REQUIRE(h.out.late.size() == 1);
  CHECK(h.out.late[0].value.at("missed") == j(R"([{"window_start": 0, "window_end": 3000}])"));
  CHECK(h.out.late[0].value.at("counted") == true);
  h.feed(R"({"v": 0, "ts": 9000})");
  std::vector<std::string> got;
  for (const auto& r : h.out.results) got.push_back(json::serialize(r.rec.value));
  CHECK(got == std::vector<std::string>{
                   R"({"window_start":0,"window_end":3000,"count":1,"s":1})",
                   R"({"window_start":1000,"window_end":4000,"count":3,"s":111})",
                   R"({"window_start":2000,"window_end":5000,"count":3,"s":111})",
                   R"({"window_start":3000,"window_end":6000,"count":1,"s":10})",
               });
}

TEST_CASE("window: sessions end after the gap, per key; an out-of-order record bridges two sessions") {
  Harness h(R"({"kind": "session", "gap": "1s", "time": "ts", "group_by": {"k": "k"},
                "aggregates": {"s": {"fn": "sum", "of": "v"}}, "allowed_lateness": "5s"})");
  h.feed(R"({"k": "a", "v": 1, "ts": 0})");
  h.feed(R"({"k": "a", "v": 2, "ts": 800})");
  h.feed(R"({"k": "b", "v": 5, "ts": 900})");
  h.feed(R"({"k": "a", "v": 4, "ts": 2500})");  // 1700 ms after 800: a new session
  CHECK(h.w->state_size().keys == 3);
  h.feed(R"({"k": "a", "v": 8, "ts": 1600})");  // within a gap of both: one session 0..2500
  CHECK(h.w->state_size().keys == 2);
  h.feed(R"({"k": "c", "v": 0, "ts": 9000})");  // watermark 4000: both close
  REQUIRE(h.out.results.size() == 2);
  CHECK(h.out.results[0].at == 1900);
  CHECK(h.result(0) == j(R"({"k": "b", "window_start": 900, "window_end": 1900, "count": 1, "s": 5})"));
  CHECK(h.out.results[1].at == 3500);
  CHECK(h.result(1) == j(R"({"k": "a", "window_start": 0, "window_end": 3500, "count": 4, "s": 15})"));
  CHECK(h.out.results[1].rec.id == R"(["a"]@0)");
}

TEST_CASE("window: a session is at most max_duration long; a record before a session extends it back") {
  Harness h(
      R"({"kind": "session", "gap": "1s", "max_duration": "2s", "time": "ts", "allowed_lateness": "10s"})");
  for (int t : {0, 900, 1800, 2700}) h.feed(R"({"ts": )" + std::to_string(t) + "}");
  h.feed(R"({"ts": 5000})");  // a session 5000..6000
  h.feed(R"({"ts": 4500})");  // before it, within the gap: extends it back to 4500
  h.feed(R"({"ts": 30000})");
  REQUIRE(h.out.results.size() == 3);
  CHECK(h.result(0) == j(R"({"window_start": 0, "window_end": 2000, "count": 3})"));
  CHECK(h.result(1) == j(R"({"window_start": 2700, "window_end": 3700, "count": 1})"));
  CHECK(h.result(2) == j(R"({"window_start": 4500, "window_end": 6000, "count": 2})"));
}

TEST_CASE(
    "window: idle_timeout closes the last windows when input stops; processing time closes by the clock") {
  Harness h(R"({"size": "1s", "time": "ts", "idle_timeout": "3s"})");
  h.feed(R"({"ts": 500})", 100000);
  h.advance(102999);
  CHECK(h.out.results.empty());
  h.advance(103000);  // 3 s without records: the watermark goes to the clock
  REQUIRE(h.out.results.size() == 1);
  CHECK(h.result(0) == j(R"({"window_start": 0, "window_end": 1000, "count": 1})"));
  h.feed(R"({"ts": 1500})", 103100);  // behind the watermark now: late
  CHECK(h.out.late.size() == 1);

  Harness p(R"({"size": "1s"})");
  CHECK(p.w->tick_interval() == std::chrono::milliseconds(1000));
  p.feed("{}", 5200);
  p.feed("{}", 5900);
  p.advance(5999);
  CHECK(p.out.results.empty());
  p.advance(6000);
  REQUIRE(p.out.results.size() == 1);
  CHECK(p.result(0) == j(R"({"window_start": 5000, "window_end": 6000, "count": 2})"));
}

TEST_CASE("window: every aggregate") {
  Harness h(R"({"size": "10s", "time": "ts", "aggregates": {
      "n": {"fn": "count", "of": "v"}, "sum": {"fn": "sum", "of": "v"}, "avg": {"fn": "avg", "of": "v"},
      "min": {"fn": "min", "of": "v"}, "max": {"fn": "max", "of": "v"}, "first": {"fn": "first", "of": "tag"},
      "last": {"fn": "last", "of": "tag"}, "sd": {"fn": "stddev", "of": "v"},
      "p50": {"fn": "percentile", "of": "v", "p": 0.5}, "fsum": {"fn": "sum", "of": "f"},
      "none": {"fn": "avg", "of": "missing"}}})");
  h.feed(R"({"ts": 3000, "v": 2, "tag": "c", "f": 0.5})");
  h.feed(R"({"ts": 1000, "v": 4, "tag": "a", "f": 0.25})");
  h.feed(R"({"ts": 5000, "v": 4, "tag": "e"})");
  h.feed(R"({"ts": 5000, "v": 5, "tag": "f"})");
  h.feed(R"({"ts": 2000, "v": 7, "tag": {"x": [1.5]}})");
  h.feed(R"({"ts": 4000, "v": 9})");
  h.feed(R"({"ts": 4000, "v": null, "tag": "skipped"})");
  h.feed(R"({"ts": 30000})");
  REQUIRE(h.out.results.size() == 1);
  const auto value = h.result(0);
  const auto& r = value.as_object();
  CHECK(r.at("count") == 7);
  CHECK(r.at("n") == 6);
  CHECK(r.at("sum") == 31);
  CHECK(r.at("avg").as_double() == doctest::Approx(31.0 / 6));
  CHECK(r.at("min") == 2);
  CHECK(r.at("max") == 9);
  CHECK(r.at("first") == "a");
  CHECK(r.at("last") == "f");  // 5000 twice: the later arrival
  // population standard deviation of 2 4 4 5 7 9: mean 31/6
  double m = 31.0 / 6, ss = 0;
  for (double x : {2, 4, 4, 5, 7, 9}) ss += (x - m) * (x - m);
  CHECK(r.at("sd").as_double() == doctest::Approx(std::sqrt(ss / 6)).epsilon(1e-12));
  CHECK(std::fabs(r.at("p50").as_double() - 4) <= 0.01 * 4 + 1e-9);  // rank floor(0.5 * 5) = 2: the value 4
  CHECK(r.at("fsum") == 0.75);
  CHECK(r.at("none").is_null());
}

TEST_CASE("window: bad time and non-numeric values go to error with the reason; count counts any value") {
  Harness h(
      R"({"size": "1s", "time": "ts", "aggregates": {"s": {"fn": "sum", "of": "v"}, "n": {"fn": "count", "of": "v"}}})");
  h.feed(R"({"v": 1})");
  h.feed(R"({"v": 1, "ts": "yesterday"})");
  h.feed(R"({"v": 1, "ts": true})");
  h.feed(R"({"v": "3", "ts": 10})");
  REQUIRE(h.out.failed.size() == 4);
  CHECK(h.out.failed[0].second == "time is missing (null)");
  CHECK(h.out.failed[1].second.find("not RFC 3339") != std::string::npos);
  CHECK(h.out.failed[2].second.find("boolean") != std::string::npos);
  CHECK(h.out.failed[3].second == "aggregate s (sum) needs a number, got a string");
  CHECK(h.out.failed[3].first.id == "r3");

  Harness c(R"({"size": "1s", "time": "ts", "aggregates": {"n": {"fn": "count", "of": "v"}}})");
  c.feed(R"({"v": "3", "ts": 10})");
  c.feed(R"({"v": [1], "ts": "1970-01-01T00:00:00.020Z"})");
  c.feed(R"({"ts": 5000})");
  CHECK(c.out.failed.empty());
  REQUIRE(c.out.results.size() == 1);
  CHECK(c.result(0) == j(R"({"window_start": 0, "window_end": 1000, "count": 2, "n": 2})"));
}

TEST_CASE("window: at max_keys a record opening one more window goes to error; the others still count") {
  Harness h(R"({"size": "1s", "time": "ts", "group_by": {"k": "k"}, "max_keys": 2})");
  h.feed(R"({"k": 1, "ts": 10})");
  h.feed(R"({"k": 2, "ts": 10})");
  h.feed(R"({"k": 3, "ts": 10})");
  h.feed(R"({"k": 1, "ts": 20})");
  REQUIRE(h.out.failed.size() == 1);
  CHECK(h.out.failed[0].first.id == "r2");
  CHECK(h.out.failed[0].second == "state full: 2 open windows, max_keys is 2");
  CHECK(testing::metric(*h.w, "state_full") == 1);
  CHECK(testing::metric(*h.w, "state_keys") == 2);
  CHECK(testing::metric(*h.w, "state_bytes") == static_cast<double>(h.w->state_size().bytes));
  CHECK(h.w->state_size().bytes > 0);
  h.feed(R"({"k": 3, "ts": 1000})");  // closes both first; now there is room
  CHECK(h.out.results.size() == 2);
  CHECK(h.out.failed.size() == 1);
  CHECK(h.w->state_size().keys == 1);
}

TEST_CASE("window: group values in ids are unique and hold no space") {
  Harness h(R"({"size": "1s", "time": "ts", "group_by": {"k": "k", "n": "n"}})");
  h.feed(R"({"k": "living room", "n": null, "ts": 0})");
  h.feed(R"({"k": "a%20b@c", "n": 1.5, "ts": 0})");
  h.feed(R"({"ts": 5000})");
  h.feed(R"({"ts": 9000})");
  REQUIRE(h.out.results.size() == 3);
  CHECK(h.out.results[0].rec.id == R"(["a%2520b%40c",1.5E0]@0)");
  CHECK(h.out.results[1].rec.id == R"(["living%20room",null]@0)");
  CHECK(h.result(1) ==
        j(R"({"k": "living room", "n": null, "window_start": 0, "window_end": 1000, "count": 1})"));
  CHECK(h.out.results[2].rec.id == "[null,null]@5000");
}
