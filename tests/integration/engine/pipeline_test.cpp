// The foundation's promises, end to end with the real binary and a real nats-server:
// 100,000 records through nats_input → json_filter → json_map → nats_output arrive exactly once
// and transformed, also when the engine is SIGKILLed three times or the server restarts.
#include <doctest/doctest.h>

#include <set>

#include "rig.hpp"

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
