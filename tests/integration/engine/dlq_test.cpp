// Dead letters end to end: a flow whose map fails on some records puts them in its dead letters;
// `weir dlq list` and `show` see them; once the flow is fixed, `weir dlq replay` sends them back
// through it and every record arrives.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <set>

#include "rig.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct CliRun {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CliRun weir_cli(const EngineRig& rig, const std::vector<std::string>& args) {
  const std::string err_file = rig.dir() + "/cli.err";
  std::string cmd = quote(weir_binary());
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " 2>" + quote(err_file);
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

// nats_input → json_map → nats_output; `ratio` divides by zero where value % 10 == 0.
std::string flow(const std::string& ratio) {
  return R"({
  "version": 1,
  "name": "pipeline",
  "settings": { "ack_wait": "2s" },
  "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC", "ack_wait": "2s" } },
    { "id": "shape", "type": "json_map", "inputs": ["src"], "config": { "set": { "ratio": ")" +
         ratio + R"(" } } },
    { "id": "sink", "type": "nats_output", "inputs": ["shape"], "config": { "subject": "out.data" } }
  ]
})";
}

}  // namespace

TEST_CASE("weir dlq lists, shows and replays a flow's dead letters") {
  constexpr std::uint64_t n = 200;
  constexpr std::uint64_t failing = n / 10;  // value % 10 == 0
  EngineRig rig;
  rig.create_streams();
  rig.write_flow("pipeline.json", flow("100 / (value % 10)"));
  rig.start_engine();
  rig.publish_source(0, n);
  REQUIRE_MESSAGE(rig.wait_out(n - failing, 60s) == n - failing, rig.debug_state() << rig.engine_log());
  const auto url = rig.server().url();

  // The failed records, as the CLI lists them (a batch may hold several).
  std::uint64_t listed = 0;
  std::uint64_t first_seq = 0;
  REQUIRE(wait_until(
      [&] {
        auto r = weir_cli(rig, {"dlq", "list", "pipeline", "--nats-url", url, "--json", "--limit", "0"});
        if (r.code != 0) return false;
        auto page = json::parse(r.out).as_object();
        listed = 0;
        for (const auto& e : page.at("dead_letters").as_array()) {
          CHECK(e.at("component").as_string() == "shape");
          CHECK(e.at("subject").as_string() == "weir.pipeline.src.out");
          CHECK(e.at("error_records").as_bool());
          CHECK(std::string(e.at("error").as_string()).find("zero") != std::string::npos);
          listed += e.at("records").to_number<std::uint64_t>();
          if (first_seq == 0) first_seq = e.at("seq").to_number<std::uint64_t>();
        }
        return listed == failing;
      },
      30s, 200ms));

  auto table = weir_cli(rig, {"dlq", "list", "pipeline", "--nats-url", url});
  CHECK(table.code == 0);
  CHECK(table.out.find("SEQ") == 0);
  CHECK(table.out.find("weir.pipeline.src.out") != std::string::npos);

  auto show = weir_cli(rig, {"dlq", "show", "pipeline", std::to_string(first_seq), "--nats-url", url});
  CHECK(show.code == 0);
  CHECK_MESSAGE(show.out.find("Weir-Subject: weir.pipeline.src.out") != std::string::npos, show.out);
  CHECK(show.out.find("\"record\":{") != std::string::npos);

  auto unknown = weir_cli(rig, {"dlq", "list", "nope", "--nats-url", url});
  CHECK(unknown.code == 1);
  CHECK_MESSAGE(unknown.err.find("flow nope has no dead-letter stream") != std::string::npos, unknown.err);

  // Without a URL the CLI reaches the embedded server `weir run` would start, on its port.
  std::ofstream(rig.dir() + "/embedded.json")
      << R"({"nats": {"embedded": {"port": )" + std::to_string(rig.server().port()) + "}}}";
  auto embedded = weir_cli(rig, {"dlq", "list", "pipeline", "-c", rig.dir() + "/embedded.json", "--json"});
  CHECK_MESSAGE(embedded.code == 0, embedded.err);
  CHECK(embedded.out.find("\"subject\": \"weir.pipeline.src.out\"") != std::string::npos);

  // Fixed: every record passes now, and the replayed ones arrive too.
  CHECK(rig.stop_engine() == 0);
  rig.write_flow("pipeline.json", flow("100 / (value % 10 + 1)"));
  rig.start_engine();
  auto replay = weir_cli(rig, {"dlq", "replay", "pipeline", "--nats-url", url});
  CHECK_MESSAGE(replay.code == 0, replay.out << replay.err);
  CHECK_MESSAGE(replay.out.find("(" + std::to_string(failing) + " records)") != std::string::npos,
                replay.out);
  CHECK(rig.stream_messages("WEIR_DLQ_PIPELINE") == 0);
  REQUIRE_MESSAGE(rig.wait_out(n, 60s) == n, rig.debug_state() << rig.engine_log());

  std::set<std::int64_t> seen;
  for (const auto& m : rig.read_out()) {
    auto v = json::parse(m.data).as_object();
    seen.insert(v.at("n").to_number<std::int64_t>());
    if (v.at("value").to_number<std::int64_t>() % 10 == 0)
      CHECK(v.at("ratio").to_number<std::int64_t>() == 100);
  }
  CHECK_MESSAGE(seen.size() == n, missing_ranges(seen, n, [](std::uint64_t) { return true; }));

  auto again = weir_cli(rig, {"dlq", "replay", "pipeline", "--nats-url", url});
  CHECK(again.code == 0);
  CHECK_MESSAGE(again.out.find("replayed 0 dead letters") != std::string::npos, again.out);
  CHECK(rig.stop_engine() == 0);
}
