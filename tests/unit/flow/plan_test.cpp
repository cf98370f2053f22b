#include <doctest/doctest.h>

#include "flow/loader.hpp"
#include "graph/plan.hpp"
#include "registry/registry.hpp"

using namespace weir;

namespace {

flow::Flow load(const std::string& components, const std::string& settings = "{}") {
  auto r = flow::load_flow_text(
      R"({"name": "site-a", "settings": )" + settings + R"(, "components": [)" + components + "]}", "t.json",
      registry::builtins(), [](const char*) -> const char* { return nullptr; });
  REQUIRE(r.flow.has_value());
  return std::move(*r.flow);
}

const std::string chain = R"({"id": "gen", "type": "generate"},
  {"id": "hot", "type": "json_filter", "inputs": ["gen"], "config": {"where": "value > 1"}},
  {"id": "cool", "type": "json_filter", "inputs": ["hot"], "config": {"where": "value < 9"}},
  {"id": "out", "type": "log", "inputs": ["cool"]})";

}  // namespace

TEST_CASE("names are deterministic") {
  CHECK(graph::stream_name("site-a") == "WEIR_SITE_A");
  CHECK(graph::port_subject("site-a", "hot", "out") == "weir.site-a.hot.out");
  CHECK(graph::durable_name("out", "cool", "out") == "out__cool__out");
  CHECK(graph::dead_letter_subject("site-a") == "weir_dlq.site-a");
}

TEST_CASE("stateless processors fuse into one stage between durable hops") {
  auto plan = graph::make_plan(load(chain));
  REQUIRE(plan.stages.size() == 3);
  const auto& in = plan.stages[0];
  CHECK(in.kind == graph::StageKind::input);
  CHECK(in.members[0].ports[0].publish);
  CHECK(in.members[0].ports[0].subject == "weir.site-a.gen.out");
  CHECK(in.members[0].ports[1].dead_letter);  // error port nobody reads

  const auto& proc = plan.stages[1];
  CHECK(proc.kind == graph::StageKind::processors);
  REQUIRE(proc.members.size() == 2);
  REQUIRE(proc.upstreams.size() == 1);
  CHECK(proc.upstreams[0].durable == "hot__gen__out");
  CHECK(proc.upstreams[0].subject == "weir.site-a.gen.out");
  // hot.out feeds cool inside the stage; cool.out leaves it.
  CHECK(proc.members[0].ports[0].local == std::vector<std::size_t>{1});
  CHECK_FALSE(proc.members[0].ports[0].publish);
  CHECK(proc.members[1].ports[0].publish);
  CHECK(proc.members[1].ports[0].subject == "weir.site-a.cool.out");

  const auto& out = plan.stages[2];
  CHECK(out.kind == graph::StageKind::output);
  CHECK(out.upstreams[0].durable == "out__cool__out");
  CHECK(plan.durables().size() == 2);
}

TEST_CASE("fuse: false makes every edge durable") {
  auto plan = graph::make_plan(load(chain, R"({"fuse": false})"));
  CHECK(plan.stages.size() == 4);
}

TEST_CASE("fan-out and a consumed error port") {
  auto plan = graph::make_plan(load(R"({"id": "gen", "type": "generate"},
    {"id": "hot", "type": "json_filter", "inputs": ["gen"], "config": {"where": "value > 1"}},
    {"id": "a", "type": "log", "inputs": ["hot"]},
    {"id": "b", "type": "log", "inputs": ["hot", "hot.error"]})"));
  REQUIRE(plan.stages.size() == 4);
  const auto& hot = plan.stages[1];
  CHECK(hot.members[0].ports[0].publish);
  CHECK(hot.members[0].ports[2].publish);  // hot.error is read by b (after out and rejected)
  CHECK_FALSE(hot.members[0].ports[2].dead_letter);
  CHECK_FALSE(hot.members[0].ports[1].publish);  // nobody reads hot.rejected: dropped
  CHECK(plan.stages[3].upstreams.size() == 2);
}

TEST_CASE("a config change keeps the plan and changes the flow's fingerprint") {
  const auto before = load(chain);
  auto edited = chain;
  edited.replace(edited.find("value < 9"), 9, "value < 8");
  const auto after = load(edited);
  CHECK(graph::make_plan(after) == graph::make_plan(before));
  CHECK(after.fingerprint() != before.fingerprint());
  CHECK(load(chain).fingerprint() == before.fingerprint());
  // Settings count too, and a change of edges changes the plan.
  CHECK(load(chain, R"({"max_deliver": 7})").fingerprint() != before.fingerprint());
  const auto rewired = load(R"({"id": "gen", "type": "generate"},
  {"id": "hot", "type": "json_filter", "inputs": ["gen"], "config": {"where": "value > 1"}},
  {"id": "cool", "type": "json_filter", "inputs": ["gen"], "config": {"where": "value < 9"}},
  {"id": "out", "type": "log", "inputs": ["cool", "hot"]})");
  CHECK_FALSE(graph::make_plan(rewired) == graph::make_plan(before));
}

TEST_CASE("a route's ports come from its config and are planned like any port") {
  auto plan = graph::make_plan(load(R"({"id": "gen", "type": "generate"},
    {"id": "by", "type": "route", "inputs": ["gen"],
     "config": {"cases": [{"port": "hot", "when": "value > 50"}, {"port": "cold", "when": "value < 5"}]}},
    {"id": "shape", "type": "json_map", "inputs": ["by.cold"], "config": {"set": {"c": "true"}}},
    {"id": "a", "type": "log", "inputs": ["by.hot", "shape"]})"));
  REQUIRE(plan.stages.size() == 3);
  const auto& proc = plan.stages[1];
  REQUIRE(proc.members.size() == 2);
  const auto& by = proc.members[0].ports;
  REQUIRE(by.size() == 4);  // hot, cold, default, error
  CHECK(by[0].publish);     // by.hot leaves the stage for a
  CHECK(by[0].subject == "weir.site-a.by.hot");
  CHECK(by[1].local == std::vector<std::size_t>{1});  // by.cold feeds shape inside the stage
  CHECK_FALSE(by[2].publish);                         // nobody reads by.default: dropped
  CHECK(by[3].dead_letter);
}
