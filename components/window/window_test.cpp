#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "sdk/state.hpp"
#include "support/component_testing.hpp"
#include "window/event_time.hpp"
#include "window/sketch.hpp"

using namespace weir;
using testing::parse_config;
namespace window = weir::components::window;
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
  CHECK(testing::has_diag(parse_config("window", R"({"kind": "tumbling"})").diags, "invalid_value",
                          "/components/0/config"));
  CHECK(testing::has_diag(parse_config("window", R"({"kind": "session"})").diags, "invalid_value",
                          "/components/0/config"));
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

namespace {

// A stream of records with event times mostly ascending, some out of order, some late, over a
// few keys, each at its processing time; an advance() after some of them.
struct Step {
  std::string record;
  sdk::Millis clock;
  bool advance;
};

std::vector<Step> stream(unsigned seed, int n) {
  std::mt19937 rng(seed);
  std::vector<Step> out;
  sdk::Millis t = 1'700'000'000'000, clock = 1'700'000'000'000;
  for (int i = 0; i < n; ++i) {
    t += static_cast<sdk::Millis>(rng() % 400);
    clock += 50;
    const sdk::Millis ts = rng() % 5 == 0 ? t - static_cast<sdk::Millis>(rng() % 3000) : t;
    json::object r{
        {"k", "k" + std::to_string(rng() % 4)}, {"v", static_cast<double>(rng() % 1000) / 7}, {"ts", ts}};
    if (rng() % 9 == 0) r["tag"] = json::object{{"x", static_cast<double>(rng() % 100) / 3}};
    out.push_back({json::serialize(r), clock, rng() % 13 == 0});
  }
  return out;
}

void run(Harness& h, const std::vector<Step>& steps, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) {
    h.feed(steps[i].record, steps[i].clock);
    if (steps[i].advance) h.advance(steps[i].clock + 25);
  }
}

std::vector<std::string> late_lines(const Captured& c) {
  std::vector<std::string> out;
  for (const auto& r : c.late) out.push_back(r.id + " " + json::serialize(r.value));
  return out;
}

const char* every_aggregate = R"("aggregates": {"s": {"fn": "sum", "of": "v"}, "a": {"fn": "avg", "of": "v"},
    "mn": {"fn": "min", "of": "v"}, "mx": {"fn": "max", "of": "v"}, "f": {"fn": "first", "of": "tag"},
    "l": {"fn": "last", "of": "tag"}, "sd": {"fn": "stddev", "of": "v"}, "p9": {"fn": "percentile", "of": "v", "p": 0.9},
    "n": {"fn": "count", "of": "tag"}})";

}  // namespace

TEST_CASE(
    "window: save in the middle of a stream, load into a fresh instance: exactly the results of one run") {
  const std::string configs[] = {
      R"({"kind": "tumbling", "size": "1s", "time": "ts", "group_by": {"k": "k"}, "allowed_lateness": "500ms", )" +
          std::string(every_aggregate) + "}",
      R"({"kind": "hopping", "size": "2s", "hop": "500ms", "time": "ts", "group_by": {"k": "k"}, "idle_timeout": "1s", )" +
          std::string(every_aggregate) + "}",
      R"({"kind": "session", "gap": "700ms", "max_duration": "3s", "time": "ts", "group_by": {"k": "k"},
          "allowed_lateness": "1s", )" +
          std::string(every_aggregate) + "}",
      R"({"kind": "session", "gap": "400ms", "group_by": {"k": "k"}, )" + std::string(every_aggregate) + "}",
  };
  for (const auto& config : configs) {
    CAPTURE(config);
    const auto steps = stream(7, 600);
    Harness whole(config);
    run(whole, steps, 0, steps.size());
    whole.advance(steps.back().clock + 60'000);
    CHECK(whole.out.results.size() > 20);
    if (config.find("\"time\"") != std::string::npos) CHECK(!whole.out.late.empty());

    for (std::size_t cut : {1UL, 137UL, 300UL, 599UL}) {
      CAPTURE(cut);
      Harness first(config);
      run(first, steps, 0, cut);
      std::string saved;
      first.w->save(saved);
      Harness second(config);
      second.clock.t = first.clock.t;
      const auto st = second.w->load(saved);
      REQUIRE_MESSAGE(st.is_ok(), st.error());
      CHECK(second.w->state_size().keys == first.w->state_size().keys);
      CHECK(second.w->state_size().bytes == first.w->state_size().bytes);
      std::string again;
      second.w->save(again);
      CHECK(again == saved);
      second.n = first.n;
      run(second, steps, cut, steps.size());
      second.advance(steps.back().clock + 60'000);
      auto results = first.out.lines(), rest = second.out.lines();
      results.insert(results.end(), rest.begin(), rest.end());
      CHECK(results == whole.out.lines());
      auto late = late_lines(first.out), late_rest = late_lines(second.out);
      late.insert(late.end(), late_rest.begin(), late_rest.end());
      CHECK(late == late_lines(whole.out));
    }
  }
}

TEST_CASE("window: load refuses garbage and a state saved under another config, and starts empty") {
  Harness a(tumbling);
  a.feed(R"({"k": "a", "v": 1, "ts": 1500})");
  std::string saved;
  a.w->save(saved);
  Harness other(R"({"kind": "tumbling", "size": "2s", "time": "ts", "group_by": {"k": "k"},
                    "aggregates": {"total": {"fn": "sum", "of": "v"}}})");
  auto st = other.w->load(saved);
  CHECK(!st.is_ok());
  CHECK(st.error().find("another config") != std::string::npos);
  CHECK(other.w->state_size().keys == 0);
  Harness b(tumbling);
  for (const char* bad : {"", "{", "[]", "null", R"({"v": 2})", "\x01\x02garbage"}) {
    CAPTURE(bad);
    CHECK(!b.w->load(bad).is_ok());
  }
  // A right header with broken windows.
  std::string broken = saved;
  broken.replace(broken.find("\"c\":1"), 5, "\"c\":\"x\"");
  CHECK(!b.w->load(broken).is_ok());
  std::string aggs = saved;
  aggs.replace(aggs.find("\"i\":1"), 5, "\"i\":1.5");
  CHECK(!b.w->load(aggs).is_ok());
  CHECK(b.w->state_size().keys == 0);
  Harness m(R"({"size": "1s", "time": "ts", "aggregates": {"m": {"fn": "max", "of": "v"}}})");
  m.feed(R"({"v": 3, "ts": 10})");
  std::string with_max;
  m.w->save(with_max);
  with_max.replace(with_max.find("\"v\":3"), 5, "\"v\":\"3\"");
  CHECK(!m.w->load(with_max).is_ok());
  // max_keys, allowed_lateness and idle_timeout may change across a restart.
  Harness c(R"({"kind": "tumbling", "size": "1s", "time": "ts", "group_by": {"k": "k"}, "max_keys": 10,
                "allowed_lateness": "2s", "aggregates": {"total": {"fn": "sum", "of": "v"}}})");
  CHECK(c.w->load(saved).is_ok());
  CHECK(c.w->state_size().keys == 1);
}

TEST_CASE("window: emit_at moments never go back, over random out-of-order streams of every kind") {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    for (
        const char* config : {
            R"({"kind": "session", "gap": "500ms", "max_duration": "2s", "time": "ts", "group_by": {"k": "k"}, "allowed_lateness": "2s"})",
            R"({"kind": "session", "gap": "900ms", "time": "ts", "group_by": {"k": "k"}, "allowed_lateness": "3s"})",
            R"({"kind": "hopping", "size": "3s", "hop": "1s", "time": "ts", "group_by": {"k": "k"}, "allowed_lateness": "1s"})",
        }) {
      CAPTURE(seed);
      CAPTURE(config);
      Harness h(config);
      const auto steps = stream(seed, 300);
      run(h, steps, 0, steps.size());  // Captured checks the order of every emit_at
      h.advance(steps.back().clock + 60'000);
      CHECK(h.w->state_size().keys == 0);
      CHECK(h.w->state_size().bytes == 0);
      std::uint64_t counted = 0;
      for (const auto& r : h.out.results) counted += r.rec.value.at("count").as_uint64();
      std::uint64_t late_only = 0;
      for (const auto& r : h.out.late) late_only += r.value.at("counted").as_bool() ? 0 : 1;
      if (std::string(config).find("session") != std::string::npos)
        CHECK(counted + late_only == steps.size());  // every record in one session or late
      std::set<std::string> ids;
      for (const auto& r : h.out.results) CHECK(ids.insert(r.rec.id).second);
    }
  }
}

TEST_CASE("DDSketch: percentiles within the relative accuracy on known distributions") {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uniform(0, 1000);
  std::exponential_distribution<double> exponential(0.01);
  std::lognormal_distribution<double> lognormal(0, 2);
  std::normal_distribution<double> normal(0, 50);  // negatives and positives
  for (double alpha : {0.01, 0.001, 0.05}) {
    for (int d = 0; d < 4; ++d) {
      CAPTURE(alpha);
      CAPTURE(d);
      window::Sketch s(alpha, 16384);
      std::vector<double> values;
      for (int i = 0; i < 50000; ++i) {
        const double x = d == 0   ? uniform(rng)
                         : d == 1 ? exponential(rng)
                         : d == 2 ? lognormal(rng)
                                  : normal(rng);
        values.push_back(x);
        s.add(x);
      }
      std::sort(values.begin(), values.end());
      CHECK(s.count() == values.size());
      double worst = 0;
      for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
        const double exact = values[static_cast<std::size_t>(std::floor(q * (values.size() - 1)))];
        worst = std::max(worst, std::fabs(s.quantile(q) - exact) / std::fabs(exact));
      }
      CHECK(worst <= alpha * (1 + 1e-9));
      CHECK(s.bins() <= 16384);
    }
  }
}

TEST_CASE("DDSketch: bounded bins collapse the smallest magnitudes; merge equals adding all; save/read") {
  window::Sketch s(0.01, 64);
  for (int e = -30; e <= 30; ++e)
    for (int i = 1; i <= 10; ++i) s.add(std::pow(10.0, e) * i);
  CHECK(s.bins() == 64);
  const double top = s.quantile(1.0);
  CHECK(std::fabs(top - 1e31) / 1e31 <= 0.01);
  CHECK(std::fabs(s.quantile(0.999) - 9e30) / 9e30 <= 0.01);  // rank 608 of 610
  // 64 bins of 1 % cover a factor 3.6 below the largest value; the smaller ones were merged upward.
  CHECK(s.quantile(0.5) >= 5 * 0.99);  // rank 304: the value 5, now in a merged bin above it

  window::Sketch a(0.01, 2048), b(0.01, 2048), all(0.01, 2048);
  for (int i = -500; i < 1500; ++i) {
    (i % 3 ? a : b).add(i * 1.7);
    all.add(i * 1.7);
  }
  a.merge(b);
  CHECK(json::serialize(a.save()) == json::serialize(all.save()));
  window::Sketch back(0.01, 2048);
  std::string why;
  REQUIRE(back.read(a.save(), why));
  CHECK(back.quantile(0.3) == a.quantile(0.3));
  window::Sketch small(0.01, 16);
  CHECK(!small.read(a.save(), why));
  CHECK(!back.read(json::parse(R"({"z": 0, "p": [[1, 0]], "n": []})"), why));
}

TEST_CASE("window: event time as ms or RFC 3339") {
  std::int64_t ms = 0;
  std::string why;
  CHECK(window::event_time(json::value(1714564800123), ms, why));
  CHECK(ms == 1714564800123);
  CHECK(window::event_time(json::value(1500.9), ms, why));
  CHECK(ms == 1500);
  CHECK(window::event_time(json::value("2024-05-01T12:00:00Z"), ms, why));
  CHECK(ms == 1714564800000);
  CHECK(window::event_time(json::value("2024-05-01T12:00:00.123456Z"), ms, why));
  CHECK(ms == 1714564800123);
  CHECK(window::event_time(json::value("2024-05-01t14:00:00.5+02:00"), ms, why));
  CHECK(ms == 1714564800500);
  CHECK(window::event_time(json::value("1969-12-31T23:59:59.999Z"), ms, why));
  CHECK(ms == -1);
  for (const char* bad : {"2024-05-01", "2024-02-30T00:00:00Z", "2024-05-01T12:00:00", "2024-05-01T25:00:00Z",
                          "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00Zx"}) {
    CAPTURE(bad);
    CHECK(!window::event_time(json::value(bad), ms, why));
  }
  CHECK(!window::event_time(json::value(1e300), ms, why));
  CHECK(why.find("out of range") != std::string::npos);
}

TEST_CASE("window: a warning when the percentile bins cover a narrow span at that accuracy") {
  auto p = parse_config("window", R"({"size": "1s", "accuracy": 0.001, "percentile_bins": 2048,
                                     "aggregates": {"p": {"fn": "percentile", "of": "v"}}})");
  CHECK(p.config != nullptr);
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/percentile_bins"));
  CHECK(parse_config("window", R"({"size": "1s", "aggregates": {"p": {"fn": "percentile", "of": "v"}}})")
            .diags.empty());
}

TEST_CASE("window: a damaged state never crashes load() nor what follows") {
  const std::string config = R"({"kind": "session", "gap": "700ms", "time": "ts", "group_by": {"k": "k"}, )" +
                             std::string(every_aggregate) + "}";
  const auto steps = stream(3, 200);
  Harness h(config);
  run(h, steps, 0, 100);
  std::string saved;
  h.w->save(saved);
  std::mt19937 rng(5);
  const std::string replacements[] = {"0", "-1", "\"x\"", "null", "[]", "{}", "1.5", "18446744073709551615"};
  std::size_t refused = 0;
  for (int i = 0; i < 400; ++i) {
    std::string damaged = saved;
    // Replace a number, or cut the text, at a position chosen at random.
    const std::size_t at = rng() % damaged.size();
    if (i % 4 == 0) {
      damaged.resize(at);
    } else {
      const auto begin = damaged.find_first_of("-0123456789", at);
      if (begin == std::string::npos) continue;
      const auto end = damaged.find_first_not_of("-0123456789", begin);
      damaged.replace(begin, end - begin, replacements[rng() % std::size(replacements)]);
    }
    Harness g(config);
    g.clock.t = h.clock.t;
    const auto st = g.w->load(damaged);
    if (!st.is_ok()) {
      ++refused;
      CHECK(g.w->state_size().keys == 0);
    }
    g.n = h.n;
    run(g, steps, 100, steps.size());  // whatever loaded, records and ticks go on without a crash
    g.advance(steps.back().clock + 60'000);
  }
  CHECK(refused > 100);
}
