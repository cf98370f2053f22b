#include <doctest/doctest.h>

#include "support/component_testing.hpp"

using namespace weir;
using testing::parse_config;

namespace {

// Runs one record through a json_map built from `config`; returns the emitted value, or
// "error: <reason>" when it went to the error port. Objects compare regardless of key order.
boost::json::value map_one(const std::string& config, const std::string& record) {
  auto m = testing::create<sdk::Processor>(parse_config("json_map", config));
  testing::CollectingEmitter out;
  m->process(testing::rec(record, "r"), out);
  if (!out.failed.empty()) {
    CHECK(out.failed[0].first.id == "r");
    return boost::json::string("error: " + out.failed[0].second);
  }
  REQUIRE(out.emitted.size() == 1);
  CHECK(out.emitted[0].first == 0);
  CHECK(out.emitted[0].second.id == "r");
  return out.emitted[0].second.value;
}

boost::json::value json(const char* text) {
  return boost::json::parse(text);
}

bool starts_with(const boost::json::value& v, std::string_view prefix) {
  return v.is_string() && std::string_view(v.get_string()).substr(0, prefix.size()) == prefix;
}

}  // namespace

TEST_CASE("json_map: the README example parses") {
  auto p = parse_config("json_map", R"({
    "set": {"temp_f": "temp * 9 / 5 + 32", "meta.alert": "temp > 30", "site": "\"a\""},
    "rename": {"ts": "time", "data.raw": "raw"},
    "remove": ["debug", "data"]})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("json_map: an empty config does nothing and is an error") {
  auto p = parse_config("json_map", "{}");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config"));
}

TEST_CASE("json_map: unknown field, with a hint") {
  auto p = parse_config("json_map", R"({"set": {"a": "1"}, "remove_": ["b"]})");
  REQUIRE(testing::has_diag(p.diags, "unknown_field", "/components/0/config/remove_"));
  CHECK(p.diags.items()[0].hint == "did you mean \"remove\"?");
}

TEST_CASE("json_map: bad paths and expressions are reported at their own pointers") {
  auto p = parse_config("json_map", R"({"set": {"a..b": "1", "ok": "1 +", "x/y": "2"},
                                        "rename": {"c": "d[", "$": "e"},
                                        "remove": ["f", "g h", "$"]})");
  CHECK(p.config == nullptr);
  CHECK(testing::has_diag(p.diags, "bad_path", "/components/0/config/set/a..b"));
  CHECK(testing::has_diag(p.diags, "bad_expression", "/components/0/config/set/ok"));
  CHECK(testing::has_diag(p.diags, "bad_path", "/components/0/config/set/x~1y"));
  CHECK(testing::has_diag(p.diags, "bad_path", "/components/0/config/rename/c"));
  CHECK(testing::has_diag(p.diags, "bad_path", "/components/0/config/rename/$"));
  CHECK(testing::has_diag(p.diags, "bad_path", "/components/0/config/remove/1"));
  CHECK(testing::has_diag(p.diags, "bad_path", "/components/0/config/remove/2"));
  CHECK(p.diags.size() == 7);
}

TEST_CASE("json_map: wrong types and a doubled rename target") {
  auto p = parse_config("json_map", R"({"set": ["a"], "remove": "b", "rename": {"a": "x", "b": "x"}})");
  CHECK(testing::has_diag(p.diags, "wrong_type", "/components/0/config/set"));
  CHECK(testing::has_diag(p.diags, "wrong_type", "/components/0/config/remove"));
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/rename/b"));
}

TEST_CASE("json_map: set sees the record as it came in") {
  CHECK(map_one(R"({"set": {"f": "value * 9 / 5 + 32", "value": "value + 1", "g": "value"}})",
                R"({"value": 10})") == json(R"({"value":11,"f":50,"g":10})"));
}

TEST_CASE("json_map: set creates nested objects, stores null, and can replace the record") {
  CHECK(map_one(R"J({"set": {"meta.tags[0]": "\"x\"", "a.b.c": "missing", "n": "len(list)"}})J",
                R"({"meta": {"tags": ["old"]}, "list": [1, 2]})") ==
        json(R"({"meta":{"tags":["x"]},"list":[1,2],"a":{"b":{"c":null}},"n":2})"));
  CHECK(map_one(R"({"set": {"$": "inner"}})", R"({"inner": {"k": 1}})") == json(R"({"k":1})"));
}

TEST_CASE("json_map: rename moves fields, nested too, and swaps") {
  CHECK(map_one(R"({"rename": {"ts": "time", "data.temp": "temp", "nope": "other"}})",
                R"({"ts": 1, "data": {"temp": 21.5, "k": 0}})") ==
        json(R"({"data":{"k":0},"time":1,"temp":21.5})"));
  CHECK(map_one(R"({"rename": {"a": "b", "b": "a"}})", R"({"a": 1, "b": 2})") == json(R"({"b":1,"a":2})"));
  CHECK(map_one(R"({"rename": {"a": "a.inner"}})", R"({"a": 1})") == json(R"({"a":{"inner":1}})"));
}

TEST_CASE("json_map: remove deletes fields and array elements; missing ones are fine") {
  CHECK(map_one(R"({"remove": ["debug", "meta.raw", "items[-1]", "absent.x"]})",
                R"({"debug": true, "meta": {"raw": "..", "id": 7}, "items": [1, 2, 3]})") ==
        json(R"({"meta":{"id":7},"items":[1,2]})"));
}

TEST_CASE("json_map: set, then rename, then remove") {
  CHECK(map_one(R"({"remove": ["tmp"], "rename": {"tmp": "kept", "x": "tmp"}, "set": {"tmp": "x * 2"}})",
                R"({"x": 4})") == json(R"({"kept":8})"));
}

TEST_CASE("json_map: records that cannot be mapped go to the error port") {
  CHECK(map_one(R"({"set": {"a": "1"}})", R"([1, 2])") == "error: json_map needs an object, got an array");
  CHECK(starts_with(map_one(R"({"set": {"a": "1", "b": "s * 2"}})", R"({"s": "text"})"), "error: set b: "));
  CHECK(starts_with(map_one(R"({"set": {"n.x": "1"}})", R"({"n": 5})"), "error: set n.x: "));
  CHECK(
      starts_with(map_one(R"({"rename": {"a": "n.x"}})", R"({"a": 1, "n": 5})"), "error: rename a to n.x: "));
}

TEST_CASE("json_map: a failed expression leaves the record unchanged") {
  auto m = testing::create<sdk::Processor>(parse_config("json_map", R"({"set": {"a": "1", "b": "1 / z"}})"));
  testing::CollectingEmitter out;
  m->process(testing::rec(R"({"z": 0})"), out);
  REQUIRE(out.failed.size() == 1);
  CHECK(out.failed[0].first.value == json(R"({"z":0})"));
}

TEST_CASE("json_map: the README example maps as documented") {
  CHECK(map_one(R"({"set": {"temp_f": "temp * 9 / 5 + 32", "meta.alert": "temp > 30", "site": "\"a\""},
                    "rename": {"ts": "time", "data.raw": "raw"},
                    "remove": ["debug", "data"]})",
                R"({"temp": 35, "ts": 1714564800123, "data": {"raw": 4011}, "debug": true})") ==
        json(R"({"temp": 35, "temp_f": 95, "meta": {"alert": true}, "site": "a", "time": 1714564800123,
                 "raw": 4011})"));
}
