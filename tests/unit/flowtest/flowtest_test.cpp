// `weir test` in-process: the harness (real processors, ids as the engine derives them, routing
// by ports), the virtual clock (a stateful test double that counts and emits on advance), the
// matchers and their diffs, the cases file's diagnostics, and the JUnit output.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

#include "flow/loader.hpp"
#include "flowtest/cases.hpp"
#include "flowtest/harness.hpp"
#include "flowtest/match.hpp"
#include "flowtest/runner.hpp"
#include "runtime/batch.hpp"
#include "sdk/expr/expr.hpp"
#include "sdk/spec.hpp"
#include "sdk/state.hpp"

namespace json = boost::json;
using namespace weir;

namespace {

// A stateful test double: passes each record on with the clock it saw ("seen"), counts them, and
// at every tick (1s) emits the count since the last tick on `totals` with emit_at, then starts
// again. Its state (the count) survives save()/load().
struct CounterConfig {
  std::chrono::nanoseconds every = std::chrono::seconds(1);
  bool refuse_load = false;  // load() fails, as a state saved under another config would
};

class Counter final : public sdk::StatefulProcessor {
 public:
  Counter(const CounterConfig& config, const sdk::Context& ctx)
      : every_(std::chrono::duration_cast<std::chrono::milliseconds>(config.every)),
        refuse_load_(config.refuse_load),
        out_(ctx.output("out")),
        totals_(ctx.output("totals")) {}
  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    // A record {"emit_at": T} makes it emit a result at T at once: how a test breaks the order.
    if (const auto* o = rec.value.if_object(); o != nullptr && o->contains("emit_at")) {
      auto& timed = static_cast<sdk::TimedEmitter&>(out);
      const auto at = o->at("emit_at").to_number<std::int64_t>();
      timed.emit_at(at, totals_, sdk::Record{"forced@" + std::to_string(at), json::object{{"at", at}}});
      return;
    }
    ++count_;
    if (rec.value.is_object()) rec.value.as_object()["seen"] = now();
    out.emit(out_, std::move(rec));
  }
  std::chrono::milliseconds tick_interval() const override { return every_; }
  void advance(sdk::Millis at, sdk::TimedEmitter& out) override {
    if (count_ == 0) return;
    json::object o{{"count", count_}, {"at", at}, {"clock", now()}};
    out.emit_at(at, totals_, sdk::Record{"total@" + std::to_string(at), std::move(o)});
    count_ = 0;
  }
  void save(std::string& out) const override { out = json::serialize(json::object{{"count", count_}}); }
  sdk::Status load(std::string_view saved) override {
    if (refuse_load_) return sdk::Status::error("saved under another config");
    boost::system::error_code ec;
    auto v = json::parse(saved, ec);
    if (ec || !v.is_object() || !v.as_object().contains("count") || !v.as_object().at("count").is_int64())
      return sdk::Status::error("not a counter's state");
    count_ = v.as_object().at("count").get_int64();
    return sdk::Status::ok();
  }
  sdk::StateSize state_size() const override { return {1, sizeof(count_)}; }

 private:
  std::chrono::milliseconds every_;
  bool refuse_load_;
  sdk::Port out_, totals_;
  std::int64_t count_ = 0;
};

sdk::ComponentSpec<CounterConfig> counter_spec() {
  return sdk::ComponentSpec<CounterConfig>{"test_counter"}
      .summary("Counts records; emits the count at every tick.")
      .field("every", &CounterConfig::every, sdk::field().doc("Tick interval."))
      .field("refuse_load", &CounterConfig::refuse_load, sdk::field().doc("load() fails."))
      .output("out", "Each record, with the clock it saw.")
      .output("totals", "The count since the last tick, at each tick.")
      .implementation<Counter>();
}

const registry::Registry& test_registry() {
  static const registry::Registry reg = [] {
    registry::Registry r;
    registry::register_builtins(r);
    r.add(counter_spec());
    return r;
  }();
  return reg;
}

flow::Flow load_flow(const std::string& text) {
  auto r = flow::load_flow_text(text, "flow.json", test_registry(), [](const char*) { return nullptr; });
  std::string diags;
  for (const auto& d : r.diagnostics.items()) diags += sdk::format(d) + "\n";
  INFO(diags);
  REQUIRE(r.flow.has_value());
  return *r.flow;
}

// The cases of `text` against `flow`; diagnostics formatted into `diags`.
std::optional<flowtest::Suite> load_cases(const flow::Flow& flow, const std::string& text,
                                          std::string* diags = nullptr) {
  auto src = flowtest::read_cases_text(text, "cases.json");
  sdk::Diagnostics d = src.diagnostics;
  std::optional<flowtest::Suite> suite;
  if (src.ok()) suite = flowtest::parse_cases(src, flow, d);
  if (diags)
    for (const auto& x : d.items()) *diags += sdk::format(x) + "\n";
  return suite;
}

std::vector<flowtest::CaseResult> run(const flow::Flow& flow, const std::string& cases) {
  std::string diags;
  auto suite = load_cases(flow, cases, &diags);
  INFO(diags);
  REQUIRE(suite.has_value());
  std::vector<flowtest::CaseResult> out;
  for (const auto& c : suite->cases) out.push_back(flowtest::run_case(flow, c));
  return out;
}

std::string joined(const flowtest::CaseResult& r) {
  return flowtest::report(r);
}

const char* const pipeline = R"({"name": "pipe", "components": [
  {"id": "sensors", "type": "generate"},
  {"id": "hot", "type": "json_filter", "inputs": ["sensors"], "config": {"where": "value > 50"}},
  {"id": "shape", "type": "json_map", "inputs": ["hot"], "config": {"set": {"f": "value * 9 / 5 + 32"}}},
  {"id": "cold", "type": "log", "inputs": ["hot.rejected"]},
  {"id": "out", "type": "log", "inputs": ["shape"]},
  {"id": "copy", "type": "log", "inputs": ["shape"]}]})";

}  // namespace

TEST_CASE("harness: real processors route by port and fan out; ids derive as the engine's") {
  const auto flow = load_flow(pipeline);
  flowtest::Harness h(flow);
  std::string error;
  REQUIRE(h.start(0, error));
  h.inject(flow.index_of("sensors"), "", json::parse(R"({"value": 60})"));
  h.inject(flow.index_of("sensors"), "mine", json::parse(R"({"value": 10})"));
  const auto& out = h.received(flow.index_of("out"));
  REQUIRE(out.size() == 1);
  CHECK(out[0].value == json::parse(R"({"value": 60, "f": 140})"));
  const auto hot_out = runtime::derive_id("sensors:0", "hot", "out");
  CHECK(out[0].id == runtime::derive_id(hot_out, "shape", "out"));
  CHECK(h.received(flow.index_of("copy")).size() == 1);  // fan-out: both readers of shape.out
  const auto& cold = h.received(flow.index_of("cold"));
  REQUIRE(cold.size() == 1);
  CHECK(cold[0].id == runtime::derive_id("mine", "hot", "rejected"));
  CHECK(h.emitted(flow.index_of("hot"), 1).size() == 1);  // hot.rejected
  CHECK(h.problems().empty());
}

TEST_CASE("harness: a failing expression goes to the error port with the reason, as the engine wraps it") {
  const auto flow = load_flow(R"({"name": "errs", "components": [
    {"id": "in", "type": "generate"},
    {"id": "m", "type": "json_map", "inputs": ["in"], "config": {"set": {"x": "a + 1"}}},
    {"id": "out", "type": "log", "inputs": ["m"]}]})");
  auto results = run(flow, R"J({"cases": [{"name": "string plus one",
    "steps": [{"input": "in", "record": {"a": "text"}}, {"input": "in", "record": {"a": 1}}],
    "expect": {"out": [{"a": 1, "x": 2}],
               "m.error": {"count": 1, "subset": [{"flow": "errs", "component": "m", "record": {"a": "text"}}],
                           "all": "contains(error, \"set x\")"}}}]})J");
  REQUIRE(results.size() == 1);
  CHECK_MESSAGE(results[0].passed, joined(results[0]));
}

TEST_CASE("virtual clock: advance() at each tick on the way, process() sees the time a record entered") {
  const auto flow = load_flow(R"J({"name": "count", "components": [
    {"id": "in", "type": "generate"},
    {"id": "c", "type": "test_counter", "inputs": ["in"]},
    {"id": "stamp", "type": "json_map", "inputs": ["c.totals"], "config": {"set": {"now": "now()"}}},
    {"id": "out", "type": "log", "inputs": ["stamp"]}]})J");
  flowtest::Harness h(flow);
  std::string error;
  REQUIRE(h.start(1700000000100, error));
  const auto in = flow.index_of("in"), c = flow.index_of("c");
  h.inject(in, "", json::parse(R"({"v": 1})"));
  REQUIRE(h.move_to(1700000000350, error));
  h.inject(in, "", json::parse(R"({"v": 2})"));
  CHECK(h.emitted(c, 0)[0].value.at("seen") == 1700000000100);
  CHECK(h.emitted(c, 0)[1].value.at("seen") == 1700000000350);
  CHECK(h.emitted(c, 1).empty());            // no tick yet
  REQUIRE(h.move_to(1700000003500, error));  // ticks at ...1000, ...2000, ...3000
  const auto& totals = h.emitted(c, 1);
  REQUIRE(totals.size() == 1);  // the ticks after the first had nothing to count
  CHECK(totals[0].value == json::parse(R"({"count": 2, "at": 1700000001000, "clock": 1700000001000})"));
  CHECK(totals[0].id == runtime::derive_id("total@1700000001000", "c", "totals"));
  // emit_at results go downstream like emit; now() in the expression read the tick's time.
  const auto& out = h.received(flow.index_of("out"));
  REQUIRE(out.size() == 1);
  CHECK(out[0].value.at("now") == 1700000001000);
  CHECK(h.now() == 1700000003500);
  CHECK_FALSE(h.move_to(1700000000000, error));
  CHECK(error.find("cannot go back") != std::string::npos);
}

TEST_CASE("virtual clock in cases: at jumps, advance steps and a restart keep the counter's state") {
  const auto flow = load_flow(R"({"name": "count", "components": [
    {"id": "in", "type": "generate"},
    {"id": "c", "type": "test_counter", "inputs": ["in"], "config": {"every": "500ms"}},
    {"id": "out", "type": "log", "inputs": ["c.totals"]}]})");
  auto results = run(flow, R"({"cases": [
    {"name": "ticks", "start": "2023-11-14T22:13:20Z", "match": "subset",
     "steps": [{"input": "in", "record": {}}, {"input": "in", "at": "+100ms", "record": {}},
               {"advance": "1s"},
               {"input": "in", "at": 1700000002200, "record": {}}, {"restart": true}, {"advance": "300ms"}],
     "expect": {"out": [{"count": 2, "at": 1700000000500}, {"count": 1, "at": 1700000002500}],
                "c.out": {"all": "seen >= 1700000000000", "count": 3}}}]})");
  REQUIRE(results.size() == 1);
  CHECK_MESSAGE(results[0].passed, joined(results[0]));
}

TEST_CASE("expressions' now() reads the virtual clock under weir test") {
  const auto flow = load_flow(R"J({"name": "stamp", "components": [
    {"id": "in", "type": "generate"},
    {"id": "m", "type": "json_map", "inputs": ["in"], "config": {"set": {"t": "now()"}}},
    {"id": "out", "type": "log", "inputs": ["m"]}]})J");
  auto results = run(flow, R"({"cases": [{"name": "stamped", "start": 5000,
    "steps": [{"input": "in", "record": {}}, {"input": "in", "at": "+2s", "record": {}}],
    "expect": {"out": [{"t": 5000}, {"t": 7000}]}}]})");
  CHECK_MESSAGE(results[0].passed, joined(results[0]));
}

TEST_CASE("matchers: exact, subset, contains, count, all, and what a failure prints") {
  const auto flow = load_flow(pipeline);
  const std::string steps =
      R"("steps": [{"input": "sensors", "record": {"value": 60, "site": "a"}},
                   {"input": "sensors", "record": {"value": 70, "site": "b"}}])";
  auto one = [&](const std::string& expect, const std::string& extra = "") {
    auto r = run(flow, R"({"cases": [{"name": "c", )" + extra + steps + R"(, "expect": )" + expect + "}]}");
    return r.at(0);
  };
  CHECK(
      one(R"({"out": [{"value": 60, "site": "a", "f": 140}, {"value": 70, "site": "b", "f": 158}]})").passed);
  CHECK(one(R"({"out": [{"f": 140.0}, {"site": "b"}]})", R"("match": "subset", )").passed);
  CHECK(one(R"({"out": {"contains": [{"site": "b"}], "count": 2, "all": "f > 100"}})").passed);
  CHECK(one(R"({"cold": {"count": 0}})").passed);

  auto exact = one(R"({"out": [{"value": 60, "site": "a", "f": 141}]})");
  CHECK_FALSE(exact.passed);
  const auto text = joined(exact);
  CHECK(text.find("FAIL c\n") == 0);
  CHECK(text.find("expect \"out\":") != std::string::npos);
  CHECK(text.find("exact: expected 1 record, got 2; 1 differs, the first at index 0") != std::string::npos);
  CHECK(text.find("at [0]/f: expected 141, got 140") != std::string::npos);
  CHECK(text.find(R"(expected[0]: {"value":60,"site":"a","f":141})") != std::string::npos);
  CHECK(text.find(R"(actual[0]:   {"value":60,"site":"a","f":140})") != std::string::npos);
  CHECK(text.find(R"(extra actual[1]: {"value":70,"site":"b","f":158})") != std::string::npos);

  auto missing = joined(one(R"({"out": {"subset": [{"site": "a"}, {"site": "b"}, {"site": "c"}]}})"));
  CHECK(missing.find(R"(missing expected[2]: {"site":"c"})") != std::string::npos);
  auto extra_key =
      joined(one(R"({"out": [{"value": 60, "site": "a"}, {"value": 70, "site": "b", "f": 158}]})"));
  CHECK(extra_key.find("at [0]/f: not expected (got 140)") != std::string::npos);
  auto contains = joined(one(R"({"out": {"contains": [{"site": "b"}, {"site": "b"}]}})"));
  CHECK(contains.find(R"(contains: 1 of 2 records expected not found among 2)") != std::string::npos);
  CHECK(contains.find(R"(not found: expected[1]: {"site":"b"})") != std::string::npos);
  auto count = joined(one(R"({"out": {"count": 3}})"));
  CHECK(count.find("count: expected 3 records, got 2") != std::string::npos);
  CHECK(count.find(R"(received[1]: {"value":70,"site":"b","f":158})") != std::string::npos);
  auto all = joined(one(R"({"out": {"all": "site == \"a\""}})"));
  CHECK(all.find(R"(all: 1 of 2 records fail "site == \"a\"", the first:)") != std::string::npos);
  CHECK(all.find(R"([1]: {"value":70,"site":"b","f":158})") != std::string::npos);
  auto all_error = joined(one(R"({"out": {"all": "site * 2 > 1"}})"));
  CHECK(all_error.find("[0] (") != std::string::npos);  // the evaluation error is named
}

TEST_CASE("json equality: numbers by value, members in any order; subset looks inside") {
  using flowtest::json_equal;
  using flowtest::json_subset;
  CHECK(json_equal(json::parse("2"), json::parse("2.0")));
  CHECK(json_equal(json::parse("18446744073709551615"), json::parse("18446744073709551615")));
  CHECK_FALSE(json_equal(json::parse("-1"), json::parse("18446744073709551615")));
  CHECK(json_equal(json::parse(R"({"a": 1, "b": [1, {"c": null}]})"),
                   json::parse(R"({"b": [1, {"c": null}], "a": 1})")));
  CHECK_FALSE(json_equal(json::parse(R"({"a": 1})"), json::parse(R"({"a": 1, "b": 2})")));
  CHECK_FALSE(json_equal(json::parse(R"("1")"), json::parse("1")));
  CHECK(json_subset(json::parse(R"({"a": {"b": 1}})"), json::parse(R"({"a": {"b": 1, "c": 2}, "d": 3})")));
  CHECK_FALSE(json_subset(json::parse(R"({"a": [1]})"), json::parse(R"({"a": [1, 2]})")));
  CHECK(flowtest::first_difference(json::parse(R"({"a": {"b": 1}})"), json::parse(R"({"a": {"c": 2}})"),
                                   true) == "/a/b: missing (expected 1)");
}

TEST_CASE("diagnostics: every problem of a cases file with file:line:col and a pointer") {
  const auto flow = load_flow(pipeline);
  std::string diags;
  auto suite = load_cases(flow, R"({"cases": [
  {"name": "bad",
   "steps": [{"input": "sensor", "record": {}},
             {"input": "hot", "record": {}},
             {"advance": "2 s"},
             {"input": "sensors", "at": "+5x", "record": {}},
             {"input": "sensors"}],
   "expect": {"hot.rejectd": [], "shap.out": [], "shape": [], "out": {"count": -1},
              "copy": {"exakt": []}, "cold": 3, "hot.out": {"all": "value >"}}},
  {"name": "bad", "steps": [], "expect": {}}]})",
                          &diags);
  CHECK_FALSE(suite.has_value());
  INFO(diags);
  auto has = [&](std::string_view text) { return diags.find(text) != std::string::npos; };
  CHECK(has(
      R"(cases.json:3:24: error[unknown_input] /cases/0/steps/0/input: no component "sensor" in the flow (did you mean "sensors"?))"));
  CHECK(has(
      R"(cases.json:4:24: error[unknown_input] /cases/0/steps/1/input: "hot" is not an input of the flow)"));
  CHECK(has("cases.json:5:26: error[invalid_value] /cases/0/steps/2/advance:"));
  CHECK(has("cases.json:6:41: error[invalid_value] /cases/0/steps/3/at:"));
  CHECK(has("cases.json:7:14: error[missing_field] /cases/0/steps/4/record:"));
  CHECK(has(
      R"(cases.json:8:30: error[unknown_port] /cases/0/expect/hot.rejectd: "hot" has no port "rejectd" (did you mean "rejected"?))"));
  CHECK(has(
      R"(error[unknown_component] /cases/0/expect/shap.out: no component "shap" in the flow (did you mean "shape"?))"));
  CHECK(has(R"(error[unknown_port] /cases/0/expect/shape: "shape" is not an output component)"));
  CHECK(has("error[wrong_type] /cases/0/expect/out/count:"));
  CHECK(has(
      R"(error[unknown_field] /cases/0/expect/copy/exakt: unknown field "exakt" (did you mean "exact"?))"));
  CHECK(has("error[wrong_type] /cases/0/expect/cold: expected an array of records or an object of matchers"));
  CHECK(has("error[bad_expression] /cases/0/expect/hot.out/all:"));
  CHECK(has("error[duplicate_case] /cases/1/name:"));
  CHECK(has("error[invalid_value] /cases/1/expect: \"expect\" is empty"));
}

TEST_CASE("diagnostics: a file that is no JSON, and the start time's forms") {
  auto src = flowtest::read_cases_text("{\"cases\": [}", "broken.json");
  CHECK_FALSE(src.ok());
  REQUIRE(!src.diagnostics.empty());
  CHECK(sdk::format(src.diagnostics.items()[0]).find("broken.json:1:12: error[json_syntax]") == 0);
  CHECK(flowtest::parse_rfc3339("2023-11-14T22:13:20Z") == 1700000000000);
  CHECK(flowtest::parse_rfc3339("2023-11-14T22:13:20.25Z") == 1700000000250);
  CHECK(flowtest::parse_rfc3339("2023-11-14T23:13:20.100+01:00") == 1700000000100);
  CHECK_FALSE(flowtest::parse_rfc3339("2023-02-30T00:00:00Z").has_value());
  CHECK_FALSE(flowtest::parse_rfc3339("2023-11-14T22:13:20").has_value());
  CHECK_FALSE(flowtest::parse_rfc3339("2023-11-14T22:13:20Zjunk").has_value());
}

TEST_CASE("a case whose component breaks a promise fails with what it broke") {
  const auto flow = load_flow(R"({"name": "count", "components": [
    {"id": "in", "type": "generate"},
    {"id": "c", "type": "test_counter", "inputs": ["in"]},
    {"id": "out", "type": "log", "inputs": ["c"]}]})");
  auto results = run(flow, R"({"cases": [{"name": "back in time", "start": 5000,
    "steps": [{"input": "in", "at": 4000, "record": {}}], "expect": {"out": []}}]})");
  CHECK_FALSE(results[0].passed);
  CHECK(joined(results[0]).find("error: /cases/0/steps/0: the clock cannot go back: from 5000 to 4000") !=
        std::string::npos);
}

TEST_CASE("a component whose emit_at moments go back fails the case, naming it") {
  const auto flow = load_flow(R"({"name": "count", "components": [
    {"id": "in", "type": "generate"},
    {"id": "c", "type": "test_counter", "inputs": ["in"]},
    {"id": "out", "type": "log", "inputs": ["c.totals"]}]})");
  auto results = run(flow, R"({"cases": [{"name": "back", "start": 5000,
    "steps": [{"input": "in", "record": {}}, {"advance": "1s"}, {"input": "in", "record": {"emit_at": 5500}}],
    "expect": {"out": {"count": 2}}}]})");
  CHECK_FALSE(results[0].passed);
  CHECK(joined(results[0])
            .find("error: c emitted a result at 5500 after one at 6000: emit_at moments must not go "
                  "back") != std::string::npos);
}

TEST_CASE("a restart whose load() fails fails the case with the component's reason") {
  const auto flow = load_flow(R"({"name": "count", "components": [
    {"id": "in", "type": "generate"},
    {"id": "c", "type": "test_counter", "inputs": ["in"], "config": {"refuse_load": true}},
    {"id": "out", "type": "log", "inputs": ["c"]}]})");
  auto results = run(flow, R"({"cases": [{"name": "restart",
    "steps": [{"input": "in", "record": {}}, {"restart": true}], "expect": {"out": {"count": 1}}}]})");
  CHECK_FALSE(results[0].passed);
  CHECK(joined(results[0])
            .find("error: /cases/0/steps/1: c: load() of the state it saved failed: saved under "
                  "another config") != std::string::npos);
}

TEST_CASE("junit: well-formed XML with the counts, each failure's diff, everything escaped") {
  std::vector<flowtest::CaseResult> results(3);
  results[0] = {"passes <fine>", true, {}, 0.001};
  results[1] = {"fails & \"quotes\" 'too'", false, {"expect \"out\":", "  exact: <a> & \x01 \xff end"}, 0.5};
  results[2] = {"caf\xC3\xA9 \xED\xA0\x80", true, {}, 0};
  const auto xml = flowtest::junit_xml("flow <x>", "cases.json", results);
  std::istringstream in(xml);
  boost::property_tree::ptree tree;
  REQUIRE_NOTHROW(boost::property_tree::read_xml(in, tree));
  const auto& suite = tree.get_child("testsuites.testsuite");
  CHECK(suite.get<std::string>("<xmlattr>.name") == "flow <x>");
  CHECK(suite.get<int>("<xmlattr>.tests") == 3);
  CHECK(suite.get<int>("<xmlattr>.failures") == 1);
  std::vector<std::string> names, failures;
  for (const auto& [tag, node] : suite) {
    if (tag != "testcase") continue;
    names.push_back(node.get<std::string>("<xmlattr>.name"));
    if (auto f = node.get_child_optional("failure")) failures.push_back(f->get_value<std::string>());
  }
  CHECK(names ==
        std::vector<std::string>{"passes <fine>", "fails & \"quotes\" 'too'", "caf\xC3\xA9 \\xED\\xA0\\x80"});
  REQUIRE(failures.size() == 1);
  CHECK(failures[0] == "expect \"out\":\n  exact: <a> & \\u0001 \\xFF end\n");
  CHECK(flowtest::xml_escape("a\tb\nc") == "a\tb\nc");
}
