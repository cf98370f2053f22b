// route and split in the real binary against a real nats-server: route sends each record to the
// output its cases name, and split's record ids repeat when the same input is split again.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <map>
#include <set>

#include "rig.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace json = boost::json;

namespace {

// The record id inside a Nats-Msg-Id "<flow>.<component>:<record id>".
std::string record_id(const std::string& msg_id) {
  auto colon = msg_id.find(':');
  return colon == std::string::npos ? msg_id : msg_id.substr(colon + 1);
}

std::string split_flow(const std::string& name, const std::string& subject) {
  return R"({ "version": 1, "name": ")" + name + R"(", "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC" } },
    { "id": "each", "type": "split", "inputs": ["src"], "config": { "field": "xs", "index_field": "i" } },
    { "id": "sink", "type": "nats_output", "inputs": ["each"], "config": { "subject": ")" +
         subject + R"(" } } ] })";
}

}  // namespace

TEST_CASE("route: generate -> route -> two outputs, each record at the output of its case") {
  EngineRig rig;
  rig.create_streams();
  constexpr std::uint64_t total = 300;
  rig.write_flow("route.json", R"({ "version": 1, "name": "routing", "components": [
    { "id": "gen", "type": "generate",
      "config": { "interval": "0", "count": 300, "template": { "n": "{{seq}}", "value": "{{rand 0 99}}" } } },
    { "id": "by_level", "type": "route", "inputs": ["gen"],
      "config": { "cases": [ { "port": "hot", "when": "value > 50" } ], "default": "rest" } },
    { "id": "hot", "type": "nats_output", "inputs": ["by_level.hot"], "config": { "subject": "out.hot" } },
    { "id": "rest", "type": "nats_output", "inputs": ["by_level.rest"], "config": { "subject": "out.rest" } }
  ] })");
  rig.start_engine();
  REQUIRE_MESSAGE(rig.wait_out(total, 120s) == total, rig.engine_log());
  std::set<std::int64_t> seen;
  std::map<std::string, int> per_subject;
  for (const auto& m : rig.read_out()) {
    auto v = json::parse(m.data).as_object();
    const auto n = v.at("n").to_number<std::int64_t>();
    const auto value = v.at("value").to_number<std::int64_t>();
    CHECK_MESSAGE(m.subject == (value > 50 ? "out.hot" : "out.rest"), m.data << " on " << m.subject);
    CHECK_MESSAGE(seen.insert(n).second, "record " << n << " arrived twice");
    per_subject[m.subject]++;
  }
  CHECK(seen.size() == total);
  // Random values from 0 to 99: both outputs got some (the chance of either being empty is 2^-300).
  CHECK(per_subject["out.hot"] > 0);
  CHECK(per_subject["out.rest"] > 0);
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("split: the same input split twice gives the same record ids, one per element") {
  EngineRig rig;
  rig.create_streams();
  // Record i holds i % 4 elements; one element in seven is not an object (to `error`).
  std::vector<std::string> bodies;
  std::size_t elements = 0;
  for (int i = 0; i < 40; ++i) {
    std::string xs;
    for (int k = 0; k < i % 4; ++k) {
      const bool bad = (i * 4 + k) % 7 == 0;
      xs += std::string(k ? "," : "") + (bad ? "5" : R"({"n":)" + std::to_string(i) + "}");
      elements += !bad;
    }
    bodies.push_back(R"({"n":)" + std::to_string(i) + R"(,"xs":[)" + xs + "]}");
  }
  rig.publish_records(bodies);
  // Two flows read the same source records: the second processes the same input again, as a
  // redelivery would.
  rig.write_flow("split-a.json", split_flow("split-a", "out.a"));
  rig.write_flow("split-b.json", split_flow("split-b", "out.b"));
  rig.start_engine();
  REQUIRE_MESSAGE(rig.wait_out(2 * elements, 120s) == 2 * elements, rig.engine_log());
  std::map<std::string, std::vector<std::string>> ids;  // subject -> record ids
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (const auto& m : rig.read_out()) {
    ids[m.subject].push_back(record_id(m.msg_id));
    if (m.subject != "out.a") continue;
    auto v = json::parse(m.data).as_object();
    CHECK(seen.insert({v.at("n").to_number<std::int64_t>(), v.at("i").to_number<std::int64_t>()}).second);
  }
  REQUIRE(ids["out.a"].size() == elements);
  const std::set<std::string> a(ids["out.a"].begin(), ids["out.a"].end());
  const std::set<std::string> b(ids["out.b"].begin(), ids["out.b"].end());
  CHECK(a.size() == elements);  // one id per element
  CHECK(a == b);
  CHECK(rig.stop_engine() == 0);
}
