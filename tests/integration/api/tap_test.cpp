// Live taps: `weir tap` prints a running flow's records, and a tap client that stops reading
// does not hold the flow back (the flow's rate with and without one is bench/ops_bench's job;
// here: everything still arrives, exactly once).
#include <unistd.h>

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "api_support.hpp"
#include "support/stalled_websocket.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weir::testing;

namespace {

std::vector<json::object> record_lines(const std::string& file) {
  std::ifstream in(file);
  std::vector<json::object> out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("{\"id\"", 0) != 0) continue;
    json::error_code ec;
    auto v = json::parse(line, ec);
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

}  // namespace

TEST_CASE("tap: weir tap prints live records of a port, of an output's input, and refuses unknown ones") {
  EngineRig rig;
  start_pipeline(rig);

  const auto out_file = rig.dir() + "/tap.out";
  weir::testing::ChildProcess tap(
      {weir::testing::weir_binary(), "tap", "pipeline", "keep", "--count", "5", "--api", rig.api()},
      out_file);
  const auto in_file = rig.dir() + "/tap-sink.out";
  weir::testing::ChildProcess tap_in(
      {weir::testing::weir_binary(), "tap", "pipeline", "sink", "--count", "3", "--api", rig.api()}, in_file);
  // The taps are live: they see what passes after they connect.
  std::uint64_t sent = 0;
  REQUIRE(weir::testing::wait_until(
      [&] {
        rig.publish_source(sent, sent + 50);
        sent += 50;
        return record_lines(out_file).size() >= 5 && record_lines(in_file).size() >= 3;
      },
      30s, 200ms));
  // Each exits by itself after --count records.
  REQUIRE(weir::testing::wait_until([&] { return !tap.running() && !tap_in.running(); }, 20s, 50ms));
  CHECK(tap.terminate() == 0);
  CHECK(tap_in.terminate() == 0);
  auto lines = record_lines(out_file);
  REQUIRE(lines.size() == 5);
  for (const auto& l : lines) {
    CHECK(l.at("value").as_object().contains("n"));
    CHECK(l.at("value").at("value").to_number<std::int64_t>() % 10 != 3);  // what the filter passed
  }
  for (const auto& l : record_lines(in_file)) CHECK(l.at("value").as_object().contains("double"));

  auto missing = weir::http::request("GET", rig.api(), "/api/v1/flows/pipeline/tap/nope");
  CHECK(missing.status == 426);  // not an upgrade request
  weir::testing::ChildProcess bad(
      {weir::testing::weir_binary(), "tap", "pipeline", "nope", "--api", rig.api()},
      rig.dir() + "/tap-bad.out");
  REQUIRE(weir::testing::wait_until([&] { return !bad.running(); }, 20s, 50ms));
  CHECK(bad.terminate() == 1);
  std::ifstream in(rig.dir() + "/tap-bad.out");
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("404") != std::string::npos);
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("tap: a client that never reads does not stop the flow; everything arrives once") {
  constexpr std::uint64_t total = 30'000;
  EngineRig rig;
  start_pipeline(rig);
  std::string error;
  const auto port = static_cast<std::uint16_t>(std::stoi(rig.api().substr(rig.api().rfind(':') + 1)));
  const int fd = open_stalled_websocket(port, "/api/v1/flows/pipeline/tap/keep", &error);
  REQUIRE_MESSAGE(fd >= 0, error);
  rig.publish_source(0, total);
  std::uint64_t expected = 0;
  for (std::uint64_t i = 0; i < total; ++i) expected += weir::testing::passes_filter(i);
  REQUIRE_MESSAGE(rig.wait_out(expected, 120s) == expected, rig.debug_state());
  auto out = rig.read_out();
  std::set<std::string> ids;
  for (const auto& m : out) ids.insert(m.msg_id);
  CHECK(out.size() == expected);
  CHECK(ids.size() == expected);
  // The tap client is still connected (not dropped by the flow), and the API still answers.
  CHECK(weir::http::request("GET", rig.api(), "/health").status == 200);
  ::close(fd);
  CHECK(rig.stop_engine() == 0);
}
