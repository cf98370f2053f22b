#include <doctest/doctest.h>

#include "sdk/base/json_write.hpp"
#include "support/component_testing.hpp"

using namespace weir;
using testing::parse_config;

TEST_CASE("json_filter: the README example parses") {
  auto p = parse_config("json_filter", R"({"where": "value > 50 && site == \"a\""})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("json_filter: where is required") {
  auto p = parse_config("json_filter", "{}");
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/where"));
}

TEST_CASE("json_filter: unknown field, with a hint") {
  auto p = parse_config("json_filter", R"({"where": "true", "wher": "x"})");
  REQUIRE(testing::has_diag(p.diags, "unknown_field", "/components/0/config/wher"));
  CHECK(p.diags.items()[0].hint == "did you mean \"where\"?");
}

TEST_CASE("json_filter: a bad expression names the column inside it") {
  auto p = parse_config("json_filter", R"({"where": "value > > 3"})");
  REQUIRE(testing::has_diag(p.diags, "bad_expression", "/components/0/config/where"));
  CHECK(p.diags.items()[0].offset == 8);
}

TEST_CASE("json_filter: passes, drops and fails records") {
  auto f = testing::create<sdk::Processor>(parse_config("json_filter", R"({"where": "value > 50"})"));
  testing::CollectingEmitter out;
  f->process(testing::rec(R"({"value": 51})", "a"), out);
  f->process(testing::rec(R"({"value": 50})", "b"), out);
  f->process(testing::rec(R"({"other": 1})", "c"), out);    // missing is null: not > 50, dropped
  f->process(testing::rec(R"({"value": "x"})", "d"), out);  // string vs number: false, dropped
  REQUIRE(out.emitted.size() == 4);
  CHECK(out.emitted[0].first == 0);
  CHECK(out.emitted[0].second.id == "a");
  CHECK(sdk::to_json(out.emitted[0].second.value) == R"({"value":51})");
  for (int i = 1; i < 4; ++i) CHECK(out.emitted[i].first == 1);  // `rejected`, dropped unless read
  CHECK(out.emitted[3].second.id == "d");
  CHECK(out.failed.empty());

  auto g = testing::create<sdk::Processor>(parse_config("json_filter", R"({"where": "value"})"));
  g->process(testing::rec(R"({"value": 3})", "e"), out);  // not a boolean: error port
  REQUIRE(out.failed.size() == 1);
  CHECK(out.failed[0].first.id == "e");
  CHECK(out.failed[0].second.find("where:") == 0);
}
