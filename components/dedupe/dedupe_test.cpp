#include <doctest/doctest.h>

#include "support/keyed_testing.hpp"

using namespace weir;
using testing::Keyed;
using testing::parse_config;
using testing::Step;

namespace {
constexpr std::size_t out = 0, duplicate = 1, late = 2;
}

TEST_CASE("dedupe: the README example parses; window or window_records, exactly one") {
  auto p = parse_config("dedupe", R"({"key": "id", "window": "10m"})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(testing::has_diag(parse_config("dedupe", "{}").diags, "invalid_value", "/components/0/config"));
  CHECK(testing::has_diag(parse_config("dedupe", R"({"window": "1s", "window_records": 5})").diags,
                          "invalid_value", "/components/0/config"));
  CHECK(testing::has_diag(parse_config("dedupe", R"({"window_records": 20, "max_keys": 10})").diags,
                          "invalid_value", "/components/0/config/window_records"));
  CHECK(testing::has_diag(parse_config("dedupe", R"({"window": "1s", "key": []})").diags, "invalid_value",
                          "/components/0/config/key"));
  CHECK(testing::has_diag(parse_config("dedupe", R"({"window": "1s", "key": ["a", "b +"]})").diags,
                          "bad_expression", "/components/0/config/key/1"));
}

TEST_CASE("dedupe: by processing time, a key passes once per window") {
  Keyed d("dedupe", R"({"key": "id", "window": "10s"})");
  d.record(0, R"({"id": "a"})");          // r1 passes
  d.record(5000, R"({"id": "a"})");       // r2 within 10 s of r1: dropped
  d.record(9999, R"({"id": "a"})");       // r3 still within: dropped (a sighting does not extend the window)
  d.record(10000, R"({"id": "a"})");      // r4 10 s after the pass: passes
  d.record(10000, R"({"id": "b"})");      // r5 another key
  d.record(10001, R"({"id": "\"a\""})");  // r6 the string "a" in quotes is another key
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r4", "r5", "r6"});
  CHECK(d.out.ids(duplicate).empty());  // not without emit_duplicates
  CHECK(testing::metric(*d.p, "dropped") == 2);
  CHECK(testing::metric(*d.p, "state_keys") == 3);
  CHECK(testing::metric(*d.p, "state_bytes") == static_cast<double>(d.p->state_size().bytes));
  CHECK(d.p->state_size().bytes > 0);
}

TEST_CASE("dedupe: the whole record is the default key; duplicates can go to their port") {
  Keyed d("dedupe", R"({"window": "1m", "emit_duplicates": true})");
  d.record(0, R"({"a": 1, "b": [1, 2]})");
  d.record(1, R"({"a": 1, "b": [1, 2]})");
  d.record(2, R"({"a": 1, "b": [2, 1]})");
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r3"});
  CHECK(d.out.ids(duplicate) == std::vector<std::string>{"r2"});
}

TEST_CASE("dedupe: a list of expressions makes one key; a key that fails goes to error") {
  Keyed d("dedupe", R"({"key": ["site", "n"], "window": "1m"})");
  d.record(0, R"({"site": "x", "n": 1})");
  d.record(0, R"({"site": "x", "n": 2})");
  d.record(0, R"({"site": "x", "n": 1, "other": 5})");  // same key: dropped
  d.record(0, R"({"n": 1})");                           // a missing field is null: a key too
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r2", "r4"});
  Keyed e("dedupe", R"({"key": "n + 1", "window": "1m"})");
  e.record(0, R"({"n": "x"})");
  REQUIRE(e.out.lines.size() == 1);
  CHECK(e.out.lines[0].starts_with("error r1 key: "));
}

TEST_CASE("dedupe: by event time, records out of order are checked against passes on both sides") {
  Keyed d("dedupe", R"({"key": "id", "window": "10s", "time": "ts", "lateness": "1m"})");
  d.record(0, R"({"id": "a", "ts": 100000})");                  // r1 passes
  d.record(0, R"({"id": "a", "ts": 95000})");                   // r2 5 s before a pass: dropped
  d.record(0, R"({"id": "a", "ts": 85000})");                   // r3 15 s before: passes
  d.record(0, R"({"id": "a", "ts": 94000})");                   // r4 9 s after r3's pass: dropped
  d.record(0, R"({"id": "a", "ts": "1970-01-01T00:01:50Z"})");  // r5 110000, 10 s after r1: passes
  d.record(0, R"({"id": "a", "ts": 49000})");                   // r6 older than 110000 - 1 m: late
  d.record(0, R"({"id": "a", "ts": 50000})");                   // r7 at the lateness bound: checked, passes
  d.record(0, R"({"id": "a", "ts": "yesterday"})");             // r8
  d.record(0, R"({"id": "a"})");                                // r9
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r3", "r5", "r7"});
  CHECK(d.out.ids(late) == std::vector<std::string>{"r6"});
  CHECK(testing::metric(*d.p, "late") == 1);
  CHECK(testing::metric(*d.p, "dropped") == 2);
  REQUIRE(d.out.lines.size() == 7);
  CHECK(d.out.lines[5].starts_with("error r8 time: \"yesterday\" is not RFC 3339"));
  CHECK(d.out.lines[6] == "error r9 time: null, expected ms since the epoch or RFC 3339 text");
}

TEST_CASE("dedupe: keys whose window passed are let go") {
  Keyed d("dedupe", R"({"key": "id", "window": "10s"})");
  d.record(0, R"({"id": "a"})");
  d.record(5000, R"({"id": "b"})");
  CHECK(d.p->state_size().keys == 2);
  d.record(30000, R"({"id": "c"})");
  CHECK(d.p->state_size().keys == 1);
  CHECK(testing::metric(*d.p, "expired") == 2);
  CHECK(testing::metric(*d.p, "evicted") == 0);
}

TEST_CASE("dedupe: by count, among the last window_records distinct keys") {
  Keyed d("dedupe", R"({"key": "k", "window_records": 2})");
  for (const char* k : {"a", "b", "a", "c", "b", "a", "c", "c"})
    d.record(0, std::string(R"({"k": ")") + k + "\"}");
  // a b | a: seen (a newest) | c: b leaves | b: a leaves | a: c leaves | c: b leaves | c: seen
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r2", "r4", "r5", "r6", "r7"});
  CHECK(testing::metric(*d.p, "dropped") == 2);
  CHECK(testing::metric(*d.p, "evicted") == 0);
  CHECK(d.p->state_size().keys == 2);
}

TEST_CASE("dedupe: at max_keys the least recently seen key goes, and passes again") {
  Keyed d("dedupe", R"({"key": "k", "window": "1h", "max_keys": 2})");
  for (const char* k : {"a", "b", "a", "c", "b", "a"}) d.record(0, std::string(R"({"k": ")") + k + "\"}");
  // a b | a: dropped, a is the newest | c: b evicted | b passes again: a evicted | a passes again: c evicted
  CHECK(d.out.ids(out) == std::vector<std::string>{"r1", "r2", "r4", "r5", "r6"});
  CHECK(testing::metric(*d.p, "evicted") == 3);
  CHECK(d.p->state_size().keys == 2);
}

TEST_CASE("dedupe: save, load into a fresh instance, go on: the results of an unbroken run") {
  const std::vector<Step> by_time = {{0, R"({"id": "a", "ts": 100000})"}, {1, R"({"id": "a", "ts": 95000})"},
                                     {2, R"({"id": "b", "ts": 96000})"},  {3, R"({"id": "a", "ts": 85000})"},
                                     {4, R"({"id": "c", "ts": 20000})"},  {5, R"({"id": "a", "ts": 111000})"},
                                     {6, R"({"id": "b", "ts": 200000})"}, {7, R"({"id": "a", "ts": 150000})"},
                                     {8, R"({"id": "a", "ts": 195000})"}, {9, R"({"id": "d", "ts": 201000})"},
                                     {10, R"({"id": "b", "ts": 205000})"}};
  testing::check_resume(
      "dedupe",
      R"({"key": "id", "window": "10s", "time": "ts", "lateness": "50s", "max_keys": 3, "emit_duplicates": true})",
      by_time);
  std::vector<Step> by_count;
  for (const char* k : {"a", "b", "a", "c", "b", "a", "c", "c", "d", "a"})
    by_count.push_back({0, std::string(R"({"id": ")") + k + "\"}"});
  testing::check_resume("dedupe", R"({"key": "id", "window_records": 3})", by_count);
  std::vector<Step> processing;
  for (int i = 0; i < 12; ++i) processing.push_back({i * 4000, "{\"id\": " + std::to_string(i % 4) + "}"});
  testing::check_resume("dedupe", R"({"key": "id", "window": "10s", "max_keys": 3})", processing);
}

TEST_CASE("dedupe: load() of garbage or of another config's state fails cleanly") {
  testing::check_bad_states("dedupe", R"({"key": "id", "window": "10s"})",
                            R"({"key": "id", "window": "20s"})", R"({"id": "a"})");
  testing::check_bad_states("dedupe", R"({"key": "id", "window_records": 10})",
                            R"({"key": "k", "window_records": 10})", R"({"id": "a"})");
  // The bound and the copies to `duplicate` are not part of the state's shape.
  Keyed a("dedupe", R"({"key": "id", "window": "10s", "max_keys": 5})");
  for (int i = 0; i < 5; ++i) a.record(0, "{\"id\": " + std::to_string(i) + "}");
  std::string saved;
  a.p->save(saved);
  Keyed b("dedupe", R"({"key": "id", "window": "10s", "max_keys": 2, "emit_duplicates": true})");
  REQUIRE(b.p->load(saved).is_ok());
  CHECK(b.p->state_size().keys == 2);  // the oldest went at the smaller bound
  b.record(1, R"({"id": 4})");
  b.record(1, R"({"id": 0})");
  CHECK(b.out.ids(duplicate) == std::vector<std::string>{"r1"});
  CHECK(b.out.ids(out) == std::vector<std::string>{"r2"});
}
