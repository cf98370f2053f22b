#include <doctest/doctest.h>

#include "support/keyed_testing.hpp"

using namespace weir;
using testing::Keyed;
using testing::parse_config;
using testing::Step;

namespace {
constexpr std::size_t out = 0, dropped = 1, late = 2;

std::string k(const char* key, long long ts = -1) {
  return std::string(R"({"k": ")") + key + "\"" + (ts >= 0 ? ", \"ts\": " + std::to_string(ts) : "") + "}";
}
}  // namespace

TEST_CASE("throttle: the README example parses; limit and interval are required") {
  auto p = parse_config("throttle", R"({"key": "sensor", "limit": 10, "interval": "1s"})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  auto e = parse_config("throttle", "{}");
  CHECK(testing::has_diag(e.diags, "missing_field", "/components/0/config/limit"));
  CHECK(testing::has_diag(e.diags, "missing_field", "/components/0/config/interval"));
}

TEST_CASE("throttle: at most limit per interval per key, intervals aligned to the epoch") {
  Keyed t("throttle", R"({"key": "k", "limit": 2, "interval": "1s", "emit_dropped": true})");
  t.record(0, k("a"));     // r1
  t.record(100, k("a"));   // r2
  t.record(200, k("a"));   // r3 over: dropped
  t.record(300, k("b"));   // r4 its own bucket
  t.record(999, k("a"));   // r5 still [0, 1000): dropped
  t.record(1000, k("a"));  // r6 a new interval
  t.record(1999, k("a"));  // r7
  t.record(1999, k("a"));  // r8 dropped
  CHECK(t.out.ids(out) == std::vector<std::string>{"r1", "r2", "r4", "r6", "r7"});
  CHECK(t.out.ids(dropped) == std::vector<std::string>{"r3", "r5", "r8"});
  CHECK(testing::metric(*t.p, "dropped") == 3);
  CHECK(testing::metric(*t.p, "state_keys") == 1);  // b's interval ended: let go
}

TEST_CASE("throttle: without a key, one bucket; dropped records are only counted by default") {
  Keyed t("throttle", R"({"limit": 1, "interval": "10s"})");
  t.record(10000, k("a"));
  t.record(15000, k("b"));
  t.record(20000, k("c"));
  CHECK(t.out.ids(out) == std::vector<std::string>{"r1", "r3"});
  CHECK(t.out.ids(dropped).empty());
  CHECK(testing::metric(*t.p, "dropped") == 1);
}

TEST_CASE("throttle: sample mode passes one in every sample_every beyond the limit") {
  Keyed t("throttle", R"({"limit": 1, "interval": "1m", "mode": "sample", "sample_every": 3})");
  for (int i = 0; i < 8; ++i) t.record(i, k("a"));
  CHECK(t.out.ids(out) == std::vector<std::string>{"r1", "r4", "r7"});
  CHECK(testing::metric(*t.p, "dropped") == 5);
}

TEST_CASE("throttle: by event time, a late record counts in its own interval or goes to late") {
  Keyed t("throttle", R"({"key": "k", "limit": 1, "interval": "1s", "time": "ts", "lateness": "5s"})");
  t.record(0, k("a", 10500));                // r1 [10000, 11000)
  t.record(0, k("a", 9500));                 // r2 [9000, 10000), late but within lateness: first there
  t.record(0, k("a", 9600));                 // r3 dropped
  t.record(0, k("a", 10999));                // r4 dropped
  t.record(0, k("a", 5998));                 // r5 older than the newest (10999) - 5 s: late
  t.record(0, k("a", 5999));                 // r6 at the bound: counted
  t.record(0, R"({"k": "a", "ts": true})");  // r7
  CHECK(t.out.ids(out) == std::vector<std::string>{"r1", "r2", "r6"});
  CHECK(t.out.ids(late) == std::vector<std::string>{"r5"});
  CHECK(testing::metric(*t.p, "late") == 1);
  REQUIRE(t.out.lines.size() == 5);
  CHECK(t.out.lines[4] == "error r7 time: a boolean, expected ms since the epoch or RFC 3339 text");
}

TEST_CASE("throttle: keys whose intervals ended are let go; at max_keys the least recently seen goes") {
  Keyed t("throttle", R"({"key": "k", "limit": 1, "interval": "1s", "max_keys": 2})");
  t.record(0, k("a"));
  t.record(0, k("b"));
  t.record(0, k("c"));  // evicts a
  CHECK(testing::metric(*t.p, "evicted") == 1);
  t.record(0, k("a"));  // a passes again: its count was let go
  CHECK(t.out.ids(out) == std::vector<std::string>{"r1", "r2", "r3", "r4"});
  t.record(5000, k("d"));  // every other interval ended
  CHECK(t.p->state_size().keys == 1);
}

TEST_CASE("throttle: save, load into a fresh instance, go on: the results of an unbroken run") {
  std::vector<Step> steps;
  const char* keys[] = {"a", "b", "a", "a", "c", "a", "b", "d", "a", "b"};
  const long long ts[] = {1000, 1100, 1200, 900, 1300, 2100, 2200, 100, 2300, 2400};
  for (int i = 0; i < 10; ++i) steps.push_back({i * 300, k(keys[i], ts[i])});
  testing::check_resume(
      "throttle",
      R"({"key": "k", "limit": 1, "interval": "1s", "time": "ts", "lateness": "1s", "max_keys": 3, "emit_dropped": true})",
      steps);
  testing::check_resume("throttle",
                        R"({"key": "k", "limit": 2, "interval": "1s", "mode": "sample", "sample_every": 2})",
                        steps);
}

TEST_CASE("throttle: load() of garbage or of another config's state fails cleanly") {
  testing::check_bad_states("throttle", R"({"key": "k", "limit": 1, "interval": "1s"})",
                            R"({"key": "k", "limit": 2, "interval": "1s"})", k("a"));
}
