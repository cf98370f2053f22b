// The HTTP API of the real weir binary, over real HTTP: every endpoint's success and error cases,
// and /ready following the NATS connection.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "api_support.hpp"
#include "support/prometheus_text.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weir::testing;

namespace {

const std::string bearer = EngineRig::token();  // the client sends "Bearer <token>"

std::string small_flow(const std::string& name, const std::string& where = "true") {
  return R"({"name": ")" + name + R"(", "components": [
    {"id": "gen", "type": "generate", "config": {"interval": "1s", "count": 1}},
    {"id": "keep", "type": "json_filter", "inputs": ["gen"], "config": {"where": ")" +
         where + R"("}},
    {"id": "log", "type": "log", "inputs": ["keep"]}
  ]})";
}

}  // namespace

TEST_CASE("api: health, ready, flows, components, validate, errors") {
  EngineRig rig;
  start_pipeline(rig);

  auto h = call(rig, "GET", "/health");
  CHECK(h.status == 200);
  CHECK(body_json(h).at("status") == "healthy");
  CHECK(body_json(h).as_object().contains("uptime_s"));
  CHECK(body_json(h).at("version").is_string());
  CHECK(call(rig, "POST", "/health").status == 405);

  REQUIRE(weir::testing::wait_until([&] { return call(rig, "GET", "/ready").status == 200; }, 20s, 100ms));
  auto ready = body_json(call(rig, "GET", "/ready"));
  CHECK(ready.at("bus").at("state") == "connected");
  CHECK(ready.at("flows").at(0).at("state") == "running");
  CHECK(ready.at("flows").at(0).at("components").at(0).at("state") == "running");

  auto list = call(rig, "GET", "/api/v1/flows");
  CHECK(list.status == 200);
  CHECK(body_json(list).at(0).at("name") == "pipeline");
  CHECK(body_json(list).at(0).at("state") == "running");

  auto one = call(rig, "GET", "/api/v1/flows/pipeline");
  REQUIRE(one.status == 200);
  auto v = body_json(one);
  CHECK(v.at("definition").at("name") == "pipeline");
  CHECK(v.at("components").as_array().size() == 4);
  CHECK(v.at("components").at(0).as_object().contains("records_in"));
  CHECK(call(rig, "GET", "/api/v1/flows/nope").status == 404);
  CHECK(call(rig, "GET", "/api/v1/nothing").status == 404);
  CHECK(call(rig, "GET", "/nothing").status == 404);

  // Dead letters: none yet; replaying needs the token.
  auto dlq = call(rig, "GET", "/api/v1/flows/pipeline/dlq");
  CHECK(dlq.status == 200);
  CHECK(body_json(dlq).at("total") == 0);
  CHECK(call(rig, "GET", "/api/v1/flows/nope/dlq").status == 404);
  CHECK(call(rig, "GET", "/api/v1/flows/pipeline/dlq?limit=x").status == 400);
  CHECK(call(rig, "GET", "/api/v1/flows/pipeline/dlq/7").status == 404);
  CHECK(call(rig, "POST", "/api/v1/flows/pipeline/dlq/replay").status == 401);
  auto replay = call(rig, "POST", "/api/v1/flows/pipeline/dlq/replay", {}, bearer);
  CHECK(replay.status == 200);
  CHECK(body_json(replay).at("replayed") == 0);

  auto comps = call(rig, "GET", "/api/v1/components");
  CHECK(comps.status == 200);
  CHECK(body_json(comps).as_array().size() >= 8);

  // Validation never deploys and needs no token.
  auto ok = call(rig, "POST", "/api/v1/validate", small_flow("checked"));
  CHECK(ok.status == 200);
  CHECK(body_json(ok).at("valid") == true);
  auto bad = call(rig, "POST", "/api/v1/validate", small_flow("checked", "value > > 1"));
  CHECK(bad.status == 422);
  auto d = body_json(bad).at("diagnostics").at(0);
  CHECK(d.at("code") == "bad_expression");
  CHECK(d.at("pointer") == "/components/1/config/where");
  CHECK(d.at("line").as_int64() == 3);
  CHECK(call(rig, "GET", "/api/v1/flows/checked").status == 404);

  // Mutating calls: no bearer, a wrong one.
  auto missing = call(rig, "PUT", "/api/v1/flows/extra", small_flow("extra"));
  CHECK(missing.status == 401);
  CHECK(body_json(missing).at("error").as_string().size() > 0);
  CHECK(call(rig, "PUT", "/api/v1/flows/extra", small_flow("extra"), "wrong").status == 401);
  CHECK(call(rig, "DELETE", "/api/v1/flows/pipeline", {}, "wrong").status == 401);
  CHECK(call(rig, "POST", "/api/v1/flows/pipeline/restart").status == 401);

  // Bad bodies.
  auto notjson = call(rig, "PUT", "/api/v1/flows/extra", "{\"name\": ", bearer);
  CHECK(notjson.status == 400);
  CHECK(body_json(notjson).at("error").as_string().find("not valid JSON") != std::string::npos);
  auto invalid = call(rig, "PUT", "/api/v1/flows/extra", small_flow("extra", "value > > 1"), bearer);
  CHECK(invalid.status == 422);
  CHECK(body_json(invalid).at("diagnostics").at(0).at("line").as_int64() == 3);
  CHECK_FALSE(std::filesystem::exists(rig.flows_dir() + "/extra.json"));
  auto mismatch = call(rig, "PUT", "/api/v1/flows/extra", small_flow("other"), bearer);
  CHECK(mismatch.status == 422);
  std::string huge = "{\"name\": \"extra\", \"description\": \"" + std::string(2 << 20, 'x') + "\"}";
  auto too_big = call(rig, "PUT", "/api/v1/flows/extra", huge, bearer);
  CHECK(too_big.status == 413);
  // Deep nesting and bytes that are not UTF-8: refused with the reason, nothing written.
  const std::string deep =
      "{\"name\": \"extra\", \"x\": " + std::string(100, '[') + std::string(100, ']') + "}";
  auto nested = call(rig, "PUT", "/api/v1/flows/extra", deep, bearer);
  CHECK_MESSAGE(nested.status == 400, nested.body);
  CHECK_MESSAGE(nested.body.find("nesting deeper than 64 levels") != std::string::npos, nested.body);
  auto binary =
      call(rig, "PUT", "/api/v1/flows/extra", "{\"name\": \"extra\", \"description\": \"\xff\xfe\"}", bearer);
  CHECK_MESSAGE(binary.status == 400, binary.body);
  CHECK_MESSAGE(binary.body.find("UTF-8") != std::string::npos, binary.body);
  CHECK_FALSE(std::filesystem::exists(rig.flows_dir() + "/extra.json"));

  // A new flow through the API: written, deployed, listed, revision recorded.
  auto created = call(rig, "PUT", "/api/v1/flows/extra", small_flow("extra"), bearer);
  CHECK_MESSAGE(created.status == 201, created.body);
  CHECK(std::filesystem::exists(rig.flows_dir() + "/extra.json"));
  REQUIRE(weir::testing::wait_until(
      [&] {
        auto r = call(rig, "GET", "/api/v1/flows/extra");
        return r.status == 200 && body_json(r).at("state") == "running";
      },
      20s, 100ms));
  auto updated = call(rig, "PUT", "/api/v1/flows/extra", small_flow("extra", "1 == 1"), bearer);
  CHECK_MESSAGE(updated.status == 200, updated.body);
  auto history = call(rig, "GET", "/api/v1/flows/extra/history");
  CHECK(history.status == 200);
  CHECK(body_json(history).as_array().size() == 2);
  CHECK(body_json(history).at(0).at("rev") == 2);
  CHECK(body_json(history).at(0).at("source") == "api");

  CHECK(call(rig, "POST", "/api/v1/flows/extra/restart", {}, bearer).status == 200);
  CHECK(call(rig, "POST", "/api/v1/flows/nope/restart", {}, bearer).status == 404);
  CHECK(call(rig, "GET", "/api/v1/flows/extra/restart").status == 405);

  auto deleted = call(rig, "DELETE", "/api/v1/flows/extra", {}, bearer);
  CHECK(deleted.status == 200);
  CHECK_FALSE(std::filesystem::exists(rig.flows_dir() + "/extra.json"));
  CHECK(call(rig, "GET", "/api/v1/flows/extra").status == 404);
  CHECK(call(rig, "DELETE", "/api/v1/flows/extra", {}, bearer).status == 404);

  // A reload through the file: an invalid save is refused and shown, the flow keeps running.
  rig.write_flow("pipeline.json", "{\"name\": \"pipeline\", \"components\": [");
  REQUIRE(weir::testing::wait_until(
      [&] {
        return body_json(call(rig, "GET", "/api/v1/flows/pipeline")).as_object().contains("pending_errors");
      },
      20s, 100ms));
  CHECK(body_json(call(rig, "GET", "/api/v1/flows/pipeline")).at("state") == "running");
  CHECK(call(rig, "GET", "/ready").status == 200);

  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("api: without a configured token, changes are refused with 403") {
  EngineRig rig;
  rig.write_config(R"("http": {"listen": ")" + rig.api() + R"("})");
  rig.write_flow("a.json", small_flow("a"));
  rig.start_engine();
  REQUIRE_MESSAGE(api_answers(rig), rig.engine_log());
  auto r = call(rig, "PUT", "/api/v1/flows/a", small_flow("a"), bearer);
  CHECK(r.status == 403);
  CHECK(body_json(r).at("error").as_string().find("http.token") != std::string::npos);
  CHECK(call(rig, "DELETE", "/api/v1/flows/a").status == 403);
  CHECK(call(rig, "GET", "/api/v1/flows/a").status == 200);
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("api: /ready goes 503 while nats-server is down and back to 200 when it returns") {
  EngineRig rig;
  start_pipeline(rig);
  REQUIRE(weir::testing::wait_until([&] { return call(rig, "GET", "/ready").status == 200; }, 20s, 100ms));
  rig.server().stop();
  REQUIRE(weir::testing::wait_until([&] { return call(rig, "GET", "/ready").status == 503; }, 20s, 100ms));
  auto down = call(rig, "GET", "/ready");
  CHECK(body_json(down).at("bus").at("state") != "connected");
  CHECK(call(rig, "GET", "/health").status == 200);  // the process still serves
  rig.server().start();
  CHECK(weir::testing::wait_until([&] { return call(rig, "GET", "/ready").status == 200; }, 30s, 100ms));
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("api: /metrics is strict Prometheus text and its counters match what was sent") {
  constexpr std::uint64_t total = 10'000;
  EngineRig rig;
  start_pipeline(rig);
  rig.publish_source(0, total);
  std::uint64_t passed = 0;
  for (std::uint64_t i = 0; i < total; ++i) passed += weir::testing::passes_filter(i);
  REQUIRE_MESSAGE(rig.wait_out(passed, 120s) == passed, rig.debug_state());

  auto r = call(rig, "GET", "/metrics");
  REQUIRE(r.status == 200);
  auto m = weir::testing::parse_prometheus_text(r.body);
  REQUIRE_MESSAGE(m.ok(), m.error_text() << "\n" << r.body);
  auto v = [&](const char* name, const std::map<std::string, std::string>& labels) {
    auto x = m.value(name, labels);
    INFO(name);
    REQUIRE(x.has_value());
    return *x;
  };
  const std::map<std::string, std::string> src{{"flow", "pipeline"}, {"component", "src"}};
  const std::map<std::string, std::string> keep{{"flow", "pipeline"}, {"component", "keep"}};
  const std::map<std::string, std::string> sink{{"flow", "pipeline"}, {"component", "sink"}};
  auto port = [](auto labels, const char* p) {
    labels["port"] = p;
    return labels;
  };
  CHECK(v("weir_records_out_total", port(src, "out")) == total);
  CHECK(v("weir_records_in_total", keep) == total);
  CHECK(v("weir_records_out_total", port(keep, "out")) == passed);
  CHECK(v("weir_records_out_total", port(keep, "rejected")) == total - passed);
  CHECK(v("weir_records_in_total", sink) == passed);
  CHECK(v("weir_records_written_total", sink) == passed);
  CHECK(v("weir_errors_total", keep) == 0);
  CHECK(v("weir_dead_letters_total", sink) == 0);
  CHECK(v("weir_flow_up", {{"flow", "pipeline"}}) == 1);
  CHECK(v("weir_nats_connected", {}) == 1);
  CHECK(v("weir_build_info", {}) == 1);
  CHECK(v("weir_reloads_total", {{"result", "ok"}}) == 0);
  CHECK(v("process_resident_memory_bytes", {}) > 0);
  CHECK(v("process_cpu_seconds_total", {}) > 0);
  CHECK(v("process_start_time_seconds", {}) > 1.7e9);
  CHECK(v("weir_processing_seconds_count", keep) > 0);
  CHECK(m.family("weir_processing_seconds")->type == "histogram");
  // Lag is read from JetStream consumer info (cached for a couple of seconds): it drains to 0.
  CHECK(weir::testing::wait_until(
      [&] {
        auto p = weir::testing::parse_prometheus_text(call(rig, "GET", "/metrics").body);
        return p.ok() && p.family("weir_consumer_pending") &&
               p.sum("weir_consumer_pending", {{"flow", "pipeline"}}) == 0;
      },
      20s, 250ms));
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("api: SIGHUP re-reads the log level from the engine config") {
  EngineRig rig;
  rig.write_flow("a.json", small_flow("a"));
  rig.start_engine();
  REQUIRE_MESSAGE(api_answers(rig), rig.engine_log());
  rig.write_config(R"("http": {"listen": ")" + rig.api() + R"(", "token": ")" + EngineRig::token() +
                   R"("}, "log": {"level": "debug"})");
  ::kill(rig.engine_pid(), SIGHUP);
  CHECK(wait_until([&] { return rig.engine_log().find("SIGHUP: log level debug") != std::string::npos; }, 20s,
                   100ms));
  CHECK(call(rig, "GET", "/health").status == 200);  // still serving: SIGHUP does not stop it
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("api: an HTTP address already in use stops the engine with exit 1 and the reason") {
  EngineRig rig;
  // Something else holds the rig's API port.
  const auto port = static_cast<std::uint16_t>(std::stoi(rig.api().substr(rig.api().rfind(':') + 1)));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  rig.write_flow("a.json", small_flow("a"));
  rig.start_engine();
  CHECK(wait_until([&] { return rig.engine_log().find("stopped (failed to start)") != std::string::npos; },
                   30s, 100ms));
  CHECK(rig.stop_engine() == 1);
  CHECK(rig.engine_log().find("HTTP API cannot listen on " + rig.api() + ": ") != std::string::npos);
  ::close(fd);
}
