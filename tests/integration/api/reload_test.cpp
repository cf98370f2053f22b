// Hot reload under load: 50,000 records stream through nats_input → json_filter → json_map →
// nats_output while the filter's `where` is edited five times and saved once invalid. Every
// record must arrive exactly once, routed as an expression in force while it was in the flow
// decided, and the edits must show in the log, the API and the metrics.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "api_support.hpp"
#include "support/prometheus_text.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using weir::testing::EngineRig;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Version k passes record n when n % divisor[k] == 0; the rest go to `rejected`.
const std::vector<int> divisors = {2, 3, 5, 7, 11, 13};

std::string flow(int divisor_or_invalid) {
  const std::string where =
      divisor_or_invalid > 0 ? "n % " + std::to_string(divisor_or_invalid) + " == 0" : "n % % 2";
  return R"({
  "name": "pipeline",
  "settings": { "ack_wait": "5s" },
  "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC" } },
    { "id": "keep", "type": "json_filter", "inputs": ["src"], "config": { "where": ")" +
         where + R"(" } },
    { "id": "shape", "type": "json_map", "inputs": ["keep"], "config": { "set": { "double": "n * 2" } } },
    { "id": "pass", "type": "nats_output", "inputs": ["shape"], "config": { "subject": "out.pass" } },
    { "id": "drop", "type": "nats_output", "inputs": ["keep.rejected"], "config": { "subject": "out.rejected" } }
  ]
})";
}

std::size_t reload_events(EngineRig& rig) {
  auto r = weir::http::request("GET", rig.api(), "/api/v1/reloads");
  if (r.status != 200) return 0;
  return json::parse(r.body).as_array().size();
}

}  // namespace

TEST_CASE("reload: five edits and one invalid save under a steady stream lose and duplicate nothing") {
  constexpr std::uint64_t total = 50'000;
  EngineRig rig;
  rig.create_streams();
  rig.write_flow("pipeline.json", flow(divisors[0]));
  rig.start_engine();
  REQUIRE_MESSAGE(weir::testing::api_answers(rig, "/ready"), rig.engine_log());
  const auto events_at_start = reload_events(rig);

  // Seven segments of about 7,000 records, published 1,000 every 200 ms. In each of the first
  // six, the filter is edited while the segment streams (the fourth edit is invalid); between
  // segments the output catches up, so that every version also handles records on its own.
  // A chunk's start time is a lower bound of when its records entered the flow.
  std::vector<std::int64_t> chunk_start(total / 1000);
  struct Window {
    int divisor;
    std::int64_t from_ns, to_ns;  // possibly in force: from its write until the next one applied
  };
  std::vector<Window> windows{{divisors[0], 0, INT64_MAX}};
  std::size_t expected_events = events_at_start;
  const std::vector<int> edits = {divisors[1], divisors[2], -1, divisors[3], divisors[4], divisors[5], 0};
  std::uint64_t next_chunk = 0;
  for (std::size_t seg = 0; seg < edits.size(); ++seg) {
    const std::uint64_t chunks = seg + 1 == edits.size() ? total / 1000 - next_chunk : 7;
    std::thread publisher([&, first = next_chunk, chunks] {
      for (auto c = first; c < first + chunks; ++c) {
        chunk_start[c] = now_ns();
        rig.publish_source(c * 1000, (c + 1) * 1000);
        std::this_thread::sleep_for(200ms);
      }
    });
    if (edits[seg] != 0) {
      std::this_thread::sleep_for(600ms);
      const auto written = now_ns();
      rig.write_flow("pipeline.json", flow(edits[seg]));
      ++expected_events;
      const bool applied =
          weir::testing::wait_until([&] { return reload_events(rig) >= expected_events; }, 30s, 50ms);
      if (applied && edits[seg] > 0) {
        windows.back().to_ns = now_ns();
        windows.push_back({edits[seg], written, INT64_MAX});
      }
      CHECK_MESSAGE(applied, "edit " << seg << " not reported by the API");
    }
    publisher.join();
    next_chunk += chunks;
    REQUIRE_MESSAGE(rig.wait_out(next_chunk * 1000, 120s) == next_chunk * 1000, rig.debug_state());
  }

  REQUIRE_MESSAGE(rig.wait_out(total, 120s) == total, rig.debug_state());
  std::this_thread::sleep_for(1s);  // anything beyond `total` would be a duplicate
  auto out = rig.read_out();
  CHECK(out.size() == total);

  std::set<std::int64_t> seen;
  std::set<std::string> ids;
  std::map<int, std::size_t> decided_by_only;  // records only one version explains
  std::size_t unexplained = 0;
  std::string first_unexplained;
  for (const auto& m : out) {
    ids.insert(m.msg_id);
    auto v = json::parse(m.data).as_object();
    const auto n = v.at("n").to_number<std::int64_t>();
    CHECK_MESSAGE(seen.insert(n).second, "record " << n << " arrived twice");
    const bool passed = m.subject == "out.pass";
    if (passed) CHECK(v.at("double").to_number<std::int64_t>() == 2 * n);
    const auto entered = chunk_start[static_cast<std::size_t>(n) / 1000];
    std::vector<int> explains;
    for (const auto& w : windows) {
      if (w.from_ns > m.stored_ns || w.to_ns < entered) continue;  // not in force while n was in the flow
      if ((n % w.divisor == 0) == passed) explains.push_back(w.divisor);
    }
    if (explains.empty()) {
      if (unexplained++ == 0) first_unexplained = m.data + " on " + m.subject;
    } else if (explains.size() == 1) {
      decided_by_only[explains.front()]++;
    }
  }
  CHECK(ids.size() == out.size());
  CHECK_MESSAGE(unexplained == 0,
                unexplained << " records routed by no expression in force, first: " << first_unexplained);
  CHECK_MESSAGE(seen.size() == total, "missing: " << weir::testing::missing_ranges(
                                          seen, total, [](std::uint64_t) { return true; }));
  // Every version decided some records on its own: each edit took effect.
  for (int d : divisors) CHECK_MESSAGE(decided_by_only[d] > 0, "no record shows version n % " << d);

  // One log line per reload, the refused one with its position; counted in the metrics.
  const auto log = rig.engine_log();
  std::size_t reloaded = 0;
  for (auto p = log.find("reloaded from"); p != std::string::npos; p = log.find("reloaded from", p + 1))
    ++reloaded;
  CHECK(reloaded == 5);
  CHECK(log.find("pipeline.json:6:") != std::string::npos);  // the invalid expression's line
  auto scrape = weir::http::request("GET", rig.api(), "/metrics");
  REQUIRE(scrape.status == 200);
  auto parsed = weir::testing::parse_prometheus_text(scrape.body);
  REQUIRE_MESSAGE(parsed.ok(), parsed.error_text());
  CHECK(parsed.value("weir_reloads_total", {{"result", "ok"}}) == 5);
  CHECK(parsed.value("weir_reloads_total", {{"result", "failed"}}) == 1);
  CHECK(rig.stop_engine() == 0);
}
