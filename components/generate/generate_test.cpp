#include <doctest/doctest.h>

#include <set>

#include "sdk/base/json_write.hpp"
#include "support/component_testing.hpp"

using namespace weir;
using testing::parse_config;

namespace {

std::vector<sdk::Record> run(const std::string& config, testing::CollectingSink& sink) {
  auto in = testing::create<sdk::Input>(parse_config("generate", config));
  REQUIRE(in->start().is_ok());
  in->run(sink);
  in->stop();
  return sink.pushed;
}

}  // namespace

TEST_CASE("generate: the README example parses") {
  auto p = parse_config("generate", R"({
    "interval": "500ms",
    "count": 1000,
    "template": {"id": "{{uuid}}", "device": "dev-{{rand 1 3}}", "temp": "{{randf 15 30}}",
                 "state": "{{pick ok ok ok alarm}}", "at": "{{now}}", "tags": ["demo"]}})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("generate: no field is required") {
  auto p = parse_config("generate", "{}");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("generate: unknown field") {
  auto p = parse_config("generate", R"({"intervall": "1s"})");
  REQUIRE(testing::has_diag(p.diags, "unknown_field", "/components/0/config/intervall"));
  CHECK(p.diags.items()[0].hint == "did you mean \"interval\"?");
}

TEST_CASE("generate: out-of-range and invalid values") {
  CHECK(testing::has_diag(parse_config("generate", R"({"count": -1})").diags, "out_of_range",
                          "/components/0/config/count"));
  CHECK(testing::has_diag(parse_config("generate", R"({"interval": "25h"})").diags, "out_of_range",
                          "/components/0/config/interval"));
  CHECK(testing::has_diag(parse_config("generate", R"({"interval": "fast"})").diags, "invalid_value",
                          "/components/0/config/interval"));
}

TEST_CASE("generate: a bad placeholder is reported at its string, with the column") {
  auto p = parse_config("generate", R"({"template": {"a": ["ok", "x {{rnd 1 2}}"], "b": "{{rand 5 1}}",
                                                     "c": "{{seq", "d": "{{seq 1}}", "e": "{{}}"}})");
  CHECK(p.config == nullptr);
  REQUIRE(testing::has_diag(p.diags, "bad_template", "/components/0/config/template/a/1"));
  CHECK(p.diags.items()[0].offset == 2);
  CHECK(p.diags.items()[0].hint == "did you mean \"rand\"?");
  CHECK(testing::has_diag(p.diags, "bad_template", "/components/0/config/template/b"));
  CHECK(testing::has_diag(p.diags, "bad_template", "/components/0/config/template/c"));
  CHECK(testing::has_diag(p.diags, "bad_template", "/components/0/config/template/d"));
  CHECK(testing::has_diag(p.diags, "bad_template", "/components/0/config/template/e"));
  CHECK(p.diags.size() == 5);
}

TEST_CASE("generate: the default template gives sensor-like records") {
  testing::CollectingSink sink;
  sink.limit = 3;
  auto recs = run("{}", sink);
  REQUIRE(recs.size() == 3);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const auto& v = recs[i].value;
    REQUIRE(v.is_object());
    CHECK(recs[i].id.empty());  // the engine fixes ids at the first durable publish
    CHECK(v.at("seq") == static_cast<std::int64_t>(i));
    const std::string sensor(v.at("sensor").as_string());
    CHECK(sensor.size() == 3);
    CHECK(sensor.rfind("s-", 0) == 0);
    CHECK(std::set<std::string>{"a", "b", "c"}.count(std::string(v.at("site").as_string())) == 1);
    REQUIRE(v.at("value").is_double());
    CHECK(v.at("value").as_double() >= 0.0);
    CHECK(v.at("value").as_double() <= 100.0);
    const std::string ts(v.at("ts").as_string());
    CHECK(ts.size() == 24);  // 2024-05-01T12:00:00.123Z
    CHECK(ts[10] == 'T');
    CHECK(ts.back() == 'Z');
  }
  // Each record is published on its own at a non-zero interval.
  CHECK(sink.flushes >= 3);
}

TEST_CASE("generate: placeholders are typed when alone, text otherwise") {
  testing::CollectingSink sink;
  auto recs = run(R"({"interval": "0", "count": 2, "template": {
      "n": "{{seq}}", "t": "n{{seq}}/{{rand 7 7}}", "r": "{{ rand -3 -3 }}", "f": "{{randf 1.25 1.25}}",
      "ft": "{{randf 2.5 2.5}}C", "p": "{{pick x}}", "ms": "{{now_ms}}", "u": "{{uuid}}",
      "lit": [1, {"k": "v"}, null], "nested": {"a": ["{{seq}}", true]}, "plain": "no placeholder"}})",
                  sink);
  REQUIRE(recs.size() == 2);
  const auto& v = recs[1].value.as_object();
  CHECK(v.at("n") == 1);
  CHECK(v.at("t") == "n1/7");
  CHECK(v.at("r") == -3);
  CHECK(v.at("f") == 1.25);
  CHECK(v.at("ft") == "2.5C");
  CHECK(v.at("p") == "x");
  CHECK(v.at("ms").is_int64());
  CHECK(v.at("ms").as_int64() > 1'600'000'000'000);
  const std::string u(v.at("u").as_string());
  REQUIRE(u.size() == 36);
  CHECK(u[14] == '4');
  CHECK(std::string("89ab").find(u[19]) != std::string::npos);
  CHECK(recs[0].value.at("u") != recs[1].value.at("u"));
  CHECK(sdk::to_json(v.at("lit")) == R"([1,{"k":"v"},null])");
  CHECK(sdk::to_json(v.at("nested")) == R"({"a":[1,true]})");
  CHECK(v.at("plain") == "no placeholder");
}

TEST_CASE("generate: any JSON value can be the template") {
  testing::CollectingSink sink;
  auto recs = run(R"({"interval": "0", "count": 3, "template": "{{seq}}"})", sink);
  REQUIRE(recs.size() == 3);
  CHECK(recs[2].value == 2);
}

TEST_CASE("generate: count ends the input") {
  testing::CollectingSink sink;
  auto recs = run(R"({"interval": "1ms", "count": 5})", sink);
  CHECK(recs.size() == 5);
  CHECK(recs.back().value.at("seq") == 4);
  CHECK(sink.flushes >= 5);
}

TEST_CASE("generate: stops when the sink refuses a record") {
  testing::CollectingSink sink;
  sink.limit = 4;
  auto recs = run(R"({"interval": "0"})", sink);
  CHECK(recs.size() == 4);
}

TEST_CASE("generate: at interval 0 records form batches") {
  testing::CollectingSink sink;
  auto recs = run(R"({"interval": "0", "count": 1000})", sink);
  CHECK(recs.size() == 1000);
  CHECK(sink.flushes >= 1);
  CHECK(sink.flushes < 100);
}
