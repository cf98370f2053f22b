// The foundation's promises, end to end with the real binary and a real nats-server:
// 100,000 records through nats_input → json_filter → json_map → nats_output arrive exactly once
// and transformed, also when the engine is SIGKILLed three times or the server restarts.
#include <doctest/doctest.h>

#include <nats/nats.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <thread>

#include "rig.hpp"
#include "sdk/base/record_json.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t total = 100000;

std::uint64_t expected_count(std::uint64_t n) {
  std::uint64_t c = 0;
  for (std::uint64_t i = 0; i < n; ++i) c += passes_filter(i);
  return c;
}

// Every expected record exactly once, transformed, with distinct message ids.
void check_out(EngineRig& rig, std::uint64_t n) {
  auto msgs = rig.read_out();
  CHECK(msgs.size() == expected_count(n));
  std::set<std::int64_t> seen;
  std::set<std::string> ids;
  std::size_t bad = 0, dup = 0;
  for (const auto& m : msgs) {
    std::string why;
    auto i = check_payload(m.data, why);
    if (i < 0) {
      if (bad++ < 5) FAIL_CHECK(why);
      continue;
    }
    if (!seen.insert(i).second && dup++ < 5) FAIL_CHECK("record " << i << " arrived twice");
    ids.insert(m.msg_id);
  }
  CHECK(bad == 0);
  CHECK(dup == 0);
  CHECK(seen.size() == expected_count(n));
  CHECK(ids.size() == msgs.size());
  const auto missing = missing_ranges(seen, n, passes_filter);
  CHECK_MESSAGE(missing.empty(), "missing records: " << missing);
}

// The rig with the pipeline flow deployed over `total` source records, the engine running.
void start_pipeline(EngineRig& rig, const std::string& ack_wait) {
  rig.create_streams();
  rig.write_flow("pipeline.json", pipeline_flow(ack_wait));
  rig.publish_source(0, total);
  rig.start_engine();
}

// After a fault: everything arrives, and redeliveries (after ack_wait) add nothing, since
// they must be dropped as duplicates; then the full check.
void finish_after_fault(EngineRig& rig) {
  const auto want = expected_count(total);
  auto got = rig.wait_out(want, 300s);
  CHECK_MESSAGE(got == want, rig.debug_state() << rig.engine_log());
  std::this_thread::sleep_for(5s);
  CHECK(rig.out_count() == want);
  CHECK(rig.stop_engine() == 0);
  check_out(rig, total);
}

}  // namespace

TEST_CASE("100,000 records through the pipeline, exactly once and transformed") {
  EngineRig rig;
  start_pipeline(rig, "2s");
  auto got = rig.wait_out(expected_count(total), 240s);
  CHECK_MESSAGE(got == expected_count(total), rig.engine_log());
  // Every batch acknowledged: the flow's stream drains back to empty.
  CHECK(wait_until([&] { return rig.stream_messages("WEIR_PIPELINE") == 0; }, 30s));
  CHECK(rig.stop_engine() == 0);
  check_out(rig, total);
}

TEST_CASE("SIGKILL three times mid-stream: every record exactly once") {
  EngineRig rig;
  start_pipeline(rig, "2s");
  const auto want = expected_count(total);
  for (int kill = 1; kill <= 3; ++kill) {
    // Kill at roughly a quarter, a half and three quarters of the way.
    rig.wait_out(want * static_cast<std::uint64_t>(kill) / 4, 240s);
    rig.kill_engine();
    MESSAGE("killed the engine at " << rig.out_count() << " of " << want);
    rig.start_engine();
  }
  finish_after_fault(rig);
}

TEST_CASE("nats-server restarted mid-stream: nothing lost, nothing duplicated") {
  EngineRig rig;
  start_pipeline(rig, "2s");
  const auto want = expected_count(total);
  rig.wait_out(want / 3, 240s);
  rig.server().restart();
  MESSAGE("restarted nats-server at " << rig.out_count() << " of " << want);
  finish_after_fault(rig);
}

TEST_CASE("records too large for a message go to the error port, cut, and the flow goes on") {
  // nats-server refuses a message over its max_payload (1 MiB here) for ever: a record that
  // cannot fit one must not be retried, and must not be lost without a word either.
  EngineRig rig;
  rig.create_streams();
  rig.write_flow("oversize.json", R"({
  "version": 1,
  "name": "oversize",
  "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC" } },
    { "id": "grow", "type": "json_map", "inputs": ["src"], "config": { "set": { "pad2": "pad" } } },
    { "id": "sink", "type": "nats_output", "inputs": ["grow"], "config": { "subject": "out.data" } },
    { "id": "errors", "type": "file_output", "inputs": ["src.error", "grow.error"],
      "config": { "path": "errors.ndjson" } }
  ]
})");
  rig.publish_source(0, 100, 10);
  rig.publish_source(100, 101, 600000);   // 1.2 MB once json_map doubles it: over the limit
  rig.publish_source(101, 102, 1046000);  // under max_payload at the source, over it with an id
  rig.publish_source(102, 200, 10);
  rig.start_engine();
  CHECK_MESSAGE(rig.wait_out(198, 60s) == 198, rig.debug_state() << rig.engine_log());
  const std::string errors_file = rig.dir() + "/data/errors.ndjson";
  std::vector<boost::json::value> errors;
  for (int i = 0; i < 300 && errors.size() < 2; ++i) {
    std::this_thread::sleep_for(100ms);
    errors.clear();
    std::ifstream in(errors_file);
    for (std::string line; std::getline(in, line);) errors.push_back(boost::json::parse(line));
  }
  REQUIRE(errors.size() == 2);
  std::set<std::string> components;
  for (const auto& e : errors) {
    const auto& o = e.as_object();
    components.insert(std::string(o.at("component").as_string()));
    CHECK(std::string(o.at("error").as_string()).rfind("record of ", 0) == 0);
    const auto& rec = o.at("record").as_object();
    CHECK(rec.at("raw_head").as_string().size() == weir::sdk::raw_keep_max_bytes);
    CHECK(rec.at("raw_bytes").to_number<std::int64_t>() > 1000000);
  }
  CHECK(components == std::set<std::string>{"src", "grow"});
  // A first start is a normal start: nothing to warn about (it used to warn that the new flow
  // stream had no consumers yet).
  CHECK_MESSAGE(rig.engine_log().find("warning") == std::string::npos, rig.engine_log());

  // A batch on an internal subject with a record no reader takes (what a hostile bridge peer's
  // data frame would be stored as): the batch goes to the dead letters whole, with the reason,
  // and the flow goes on.
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, rig.server().url().c_str()) == NATS_OK);
  const std::string bad = "p1 {\"n\": 1000, \"v\": 1e999}\np2 {\"n\": 1001}\n";
  CHECK(natsConnection_PublishString(nc, "weir.oversize.src.out", bad.c_str()) == NATS_OK);
  CHECK(natsConnection_FlushTimeout(nc, 5000) == NATS_OK);
  natsConnection_Destroy(nc);
  CHECK_MESSAGE(wait_until([&] { return rig.stream_messages("WEIR_DLQ_OVERSIZE") == 1; }, 30s),
                rig.debug_state() << rig.engine_log());
  CHECK(rig.engine_log().find("not a weir batch: record \"p1\": invalid JSON: number out of range") !=
        std::string::npos);
  rig.publish_source(200, 210, 10);
  CHECK_MESSAGE(rig.wait_out(208, 60s) == 208, rig.debug_state() << rig.engine_log());
  std::this_thread::sleep_for(2s);
  CHECK(rig.out_count() == 208);
  CHECK(rig.engine_log().find("publish failed") == std::string::npos);
  CHECK(rig.stop_engine() == 0);
}
