#include <doctest/doctest.h>

#include "flow/loader.hpp"
#include "registry/registry.hpp"
#include "sdk/base/json_write.hpp"
#include "support/component_testing.hpp"

using namespace weir;
using testing::has_diag;
using testing::parse_config;

namespace {

const std::string two_cases = R"({"cases": [{"port": "hot", "when": "value > 50"},
                                            {"port": "cold", "when": "value < 5"}]})";

// The ports of the instance, in order.
std::vector<std::string> ports(const sdk::ComponentInfo& info) {
  std::vector<std::string> out;
  for (const auto& p : info.outputs) out.push_back(p.name);
  return out;
}

// Where each emitted record went, by port name: "hot:a cold:b".
std::string where(const testing::CollectingEmitter& out, const sdk::ComponentInfo& info) {
  std::string s;
  for (const auto& [port, rec] : out.emitted)
    s += (s.empty() ? "" : " ") + info.outputs[port].name + ":" + rec.id;
  return s;
}

flow::LoadResult load_flow(const std::string& components) {
  return flow::load_flow_text(R"({"version": 1, "name": "r", "components": [)" + components + "]}", "r.json",
                              registry::builtins(), [](const char*) -> const char* { return nullptr; });
}

const std::string flow_head = R"({"id": "gen", "type": "generate"},
{"id": "by_level", "type": "route", "inputs": ["gen"], "config": {"cases": [{"port": "hot", "when": "value > 50"}]}},
)";

}  // namespace

TEST_CASE("route: the README example parses; its ports are the cases', then default, then error") {
  auto p = parse_config("route", two_cases);
  REQUIRE_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(ports(*p.info) == std::vector<std::string>{"hot", "cold", "default", "error"});
  // The type's own info is untouched: an instance's ports are its own.
  CHECK(ports(*registry::builtins().find("route")) == std::vector<std::string>{"error"});
  auto q = parse_config("route", R"({"cases": [{"port": "a", "when": "true"}], "default": "rest"})");
  CHECK(ports(*q.info) == std::vector<std::string>{"a", "rest", "error"});
}

TEST_CASE("route: cases are required and not empty; port and when are required") {
  CHECK(has_diag(parse_config("route", "{}").diags, "missing_field", "/components/0/config/cases"));
  CHECK(has_diag(parse_config("route", R"({"cases": []})").diags, "invalid_value",
                 "/components/0/config/cases"));
  auto p = parse_config("route", R"({"cases": [{"when": "true"}, {"port": "x"}]})");
  CHECK(has_diag(p.diags, "missing_field", "/components/0/config/cases/0/port"));
  CHECK(has_diag(p.diags, "missing_field", "/components/0/config/cases/1/when"));
}

TEST_CASE("route: duplicate port names, each at the later case") {
  auto p = parse_config("route", R"({"cases": [{"port": "hot", "when": "a"}, {"port": "cold", "when": "b"},
                                               {"port": "hot", "when": "c"}]})");
  CHECK(p.config == nullptr);
  REQUIRE(has_diag(p.diags, "duplicate_port", "/components/0/config/cases/2/port"));
  CHECK(p.diags.items().size() == 1);
  CHECK(p.diags.items()[0].message.find("case 0") != std::string::npos);
  auto d = parse_config("route", R"({"cases": [{"port": "default", "when": "a"}]})");
  CHECK(has_diag(d.diags, "duplicate_port", "/components/0/config/cases/0/port"));
  auto e = parse_config("route", R"({"cases": [{"port": "x", "when": "a"}], "default": "x"})");
  CHECK(has_diag(e.diags, "duplicate_port", "/components/0/config/cases/0/port"));
}

TEST_CASE("route: a port named error, or not a subject token, is refused") {
  auto p = parse_config("route", R"({"cases": [{"port": "error", "when": "a"}, {"port": "a.b", "when": "b"},
                                               {"port": "", "when": "c"}, {"port": "x y", "when": "d"}]})");
  CHECK(p.config == nullptr);
  CHECK(has_diag(p.diags, "invalid_value", "/components/0/config/cases/0/port"));
  CHECK(has_diag(p.diags, "invalid_value", "/components/0/config/cases/1/port"));
  CHECK(has_diag(p.diags, "invalid_value", "/components/0/config/cases/2/port"));
  CHECK(has_diag(p.diags, "invalid_value", "/components/0/config/cases/3/port"));
  CHECK(has_diag(
      parse_config("route", R"({"cases": [{"port": "a", "when": "true"}], "default": "error"})").diags,
      "invalid_value", "/components/0/config/default"));
  CHECK(
      has_diag(parse_config("route", R"({"cases": [{"port": "a", "when": "true"}], "default": "a>b"})").diags,
               "invalid_value", "/components/0/config/default"));
  CHECK(has_diag(
      parse_config("route", R"({"cases": [{"port": ")" + std::string(65, 'p') + R"(", "when": "a"}]})").diags,
      "invalid_value", "/components/0/config/cases/0/port"));
  CHECK(parse_config("route", R"({"cases": [{"port": "Hot_1-b", "when": "a"}]})").config != nullptr);
}

TEST_CASE("route: an expression that does not compile names the column inside it") {
  auto p = parse_config(
      "route", R"({"cases": [{"port": "a", "when": "true"}, {"port": "b", "when": "value > > 3"}]})");
  REQUIRE(has_diag(p.diags, "bad_expression", "/components/0/config/cases/1/when"));
  CHECK(p.diags.items()[0].offset == 8);
}

TEST_CASE("route: an unknown mode, with the options") {
  auto p = parse_config("route", R"({"cases": [{"port": "a", "when": "true"}], "mode": "any"})");
  CHECK(p.config == nullptr);
  CHECK(!p.diags.empty());
  CHECK(p.diags.items()[0].pointer == "/components/0/config/mode");
}

TEST_CASE("route: mode first sends each record to the first true case, else to default") {
  auto p = parse_config("route", R"({"cases": [{"port": "hot", "when": "value > 50"},
                                               {"port": "warm", "when": "value > 20"}]})");
  auto r = testing::create<sdk::Processor>(p);
  testing::CollectingEmitter out;
  r->process(testing::rec(R"({"value": 60})", "a"), out);  // both true: the first only
  r->process(testing::rec(R"({"value": 30})", "b"), out);
  r->process(testing::rec(R"({"value": 3})", "c"), out);
  r->process(testing::rec(R"({"other": 1})", "d"), out);  // missing is null: no case, default
  CHECK(where(out, *p.info) == "hot:a warm:b default:c default:d");
  CHECK(sdk::to_json(out.emitted[0].second.value) == R"({"value":60})");  // unchanged
  CHECK(out.failed.empty());
}

TEST_CASE("route: mode all gives every true case a copy") {
  auto p = parse_config("route", R"({"mode": "all", "default": "none", "cases": [
      {"port": "hot", "when": "value > 50"}, {"port": "warm", "when": "value > 20"}]})");
  auto r = testing::create<sdk::Processor>(p);
  testing::CollectingEmitter out;
  r->process(testing::rec(R"({"value": 60})", "a"), out);
  r->process(testing::rec(R"({"value": 30})", "b"), out);
  r->process(testing::rec(R"({"value": 3})", "c"), out);
  CHECK(where(out, *p.info) == "hot:a warm:a warm:b none:c");
  CHECK(sdk::to_json(out.emitted[1].second.value) == R"({"value":60})");
}

TEST_CASE("route: a case that cannot be evaluated sends the record to error, and nowhere else") {
  auto p = parse_config("route", R"({"cases": [{"port": "big", "when": "value * 2 > 10"},
                                               {"port": "flag", "when": "value"}]})");
  auto r = testing::create<sdk::Processor>(p);
  testing::CollectingEmitter out;
  r->process(testing::rec(R"({"value": "x"})", "a"), out);  // arithmetic on a string
  r->process(testing::rec(R"({"value": 3})", "b"), out);    // case 0 false, case 1 not a boolean
  r->process(testing::rec(R"({"value": 30})", "c"), out);   // case 0 true: case 1 never runs
  CHECK(where(out, *p.info) == "big:c");
  REQUIRE(out.failed.size() == 2);
  CHECK(out.failed[0].first.id == "a");
  CHECK(out.failed[0].second.find("case big: when: ") == 0);
  CHECK(out.failed[1].first.id == "b");
  CHECK(out.failed[1].second.find("case flag: when: ") == 0);

  auto all = parse_config("route", R"({"mode": "all", "cases": [{"port": "ok", "when": "true"},
                                                                {"port": "bad", "when": "value"}]})");
  auto ra = testing::create<sdk::Processor>(all);
  testing::CollectingEmitter out_all;
  ra->process(testing::rec(R"({"value": 3})", "d"), out_all);
  CHECK(out_all.emitted.empty());  // no copy went to `ok` before `bad` failed
  REQUIRE(out_all.failed.size() == 1);
  CHECK(out_all.failed[0].second.find("case bad: when: ") == 0);
}

TEST_CASE("route in a flow: edges name its ports; an undeclared port is reported where it is written") {
  auto ok = load_flow(flow_head + R"({"id": "a", "type": "log", "inputs": ["by_level.hot"]},
{"id": "b", "type": "log", "inputs": ["by_level.default"]})");
  REQUIRE_MESSAGE(ok.flow.has_value(), testing::dump(ok.diagnostics));
  const auto& decl = ok.flow->components[1];
  CHECK(ports(*decl.info) == std::vector<std::string>{"hot", "default", "error"});
  // A copy of the flow keeps the instance's ports (the info is shared, not copied away).
  flow::Flow copy = *ok.flow;
  CHECK(copy.components[1].info->output_index("hot") == 0);
  // The component created from the loaded flow knows its ports by name.
  auto c = decl.info->create(decl.config.get(), testing::test_context("by_level"));
  auto* r = dynamic_cast<sdk::Processor*>(c.get());
  REQUIRE(r != nullptr);
  testing::CollectingEmitter out;
  r->process(testing::rec(R"({"value": 99})", "x"), out);
  REQUIRE(out.emitted.size() == 1);
  CHECK(out.emitted[0].first == 0);

  auto bad = load_flow(flow_head + R"({"id": "a", "type": "log", "inputs": ["by_level.cold"]})");
  CHECK_FALSE(bad.flow.has_value());
  bool found = false;
  for (const auto& d : bad.diagnostics.items()) {
    if (d.code != "unknown_port") continue;
    found = true;
    CHECK(d.pointer == "/components/2/inputs/0");
    CHECK(d.file == "r.json");
    CHECK(d.line == 3);
    CHECK(d.column == 39);  // the opening quote of "by_level.cold"
    CHECK(d.hint == "its ports: hot, default, error");
  }
  CHECK_MESSAGE(found, testing::dump(bad.diagnostics));
  // Without a port an edge reads `out`, which a route does not have.
  auto plain = load_flow(flow_head + R"({"id": "a", "type": "log", "inputs": ["by_level"]})");
  CHECK_FALSE(plain.flow.has_value());
}
