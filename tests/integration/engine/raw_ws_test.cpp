// Raw WebSocket clients into a running engine: a valid JSON frame on one line goes into the batch
// as it came (InputStage::push_json), every other frame the parsed way; each record arrives once
// with the value it was sent with, and each bad frame reaches the error port with its reason.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <string>
#include <thread>

#include "common/websocket/link.hpp"
#include "rig.hpp"
#include "support/free_port.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string flow(std::uint16_t port) {
  return R"({
  "version": 1,
  "name": "raw",
  "components": [
    { "id": "in", "type": "websocket_input",
      "config": { "mode": "listen", "listen": "127.0.0.1:)" +
         std::to_string(port) + R"(", "durability": "none" } },
    { "id": "sink", "type": "nats_output", "inputs": ["in"], "config": { "subject": "out.data" } },
    { "id": "bad", "type": "nats_output", "inputs": ["in.error"], "config": { "subject": "out.error" } }
  ]
})";
}

}  // namespace

TEST_CASE("raw WebSocket frames: each record once with its value, bad frames to the error port") {
  EngineRig rig;
  rig.create_streams();
  const auto port = free_port();
  rig.write_flow("raw.json", flow(port));
  rig.start_engine();

  std::atomic<weir::ws::ConnId> conn{0};
  weir::ws::EndpointOptions o;
  o.mode = weir::ws::EndpointOptions::Mode::connect;
  o.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
  o.offer_bridge = false;
  weir::ws::Handlers h;
  h.on_open = [&](weir::ws::ConnId c, bool, const std::string&) { conn = c; };
  std::string error;
  auto client = weir::ws::Endpoint::create(o, h, error);
  REQUIRE(client);
  REQUIRE(client->start(error));
  for (int i = 0; i < 600 && conn.load() == 0; ++i) std::this_thread::sleep_for(50ms);
  REQUIRE_MESSAGE(conn.load() != 0, rig.engine_log());

  // Valid frames: compact (as they came), with spaces, pretty-printed over lines (parsed), numbers
  // whose text a writer would change; then bad ones.
  std::map<std::int64_t, std::string> sent;
  for (int i = 0; i < 2000; ++i)
    sent[i] = R"({"n":)" + std::to_string(i) + R"(,"v":)" + std::to_string(i % 7) + ".25,\"s\":\"é\\u00e9\"}";
  sent[2000] = "  { \"n\" : 2000 , \"v\" : [1, 2.50, 1e2, -0.0] }  ";
  sent[2001] = "{\n  \"n\": 2001,\n  \"v\": \"two\\nlines\"\n}";
  sent[2002] = R"({"n":2002,"v":0.1234567890123456,"big":12345678901234567890})";
  for (const auto& [n, text] : sent) client->send(conn, text, false);
  const std::string bad[] = {R"({"n":9000,"v":1e999})", R"({"n":9001,)", "\xff\xfe"};
  // (Not UTF-8: a binary frame; as a text frame WebSocket itself refuses it, closing with 1007.)
  for (const auto& b : bad) client->send(conn, b, b == bad[2]);

  REQUIRE_MESSAGE(rig.wait_out(sent.size() + std::size(bad), 60s) == sent.size() + std::size(bad),
                  std::string(rig.engine_log() + rig.debug_state()));
  std::map<std::int64_t, int> seen;
  int errors = 0;
  for (const auto& m : rig.read_out()) {
    const auto v = json::parse(m.data);
    if (m.subject == "out.error") {
      ++errors;
      CHECK(v.as_object().contains("error"));
      CHECK(v.at("component") == "in");
      continue;
    }
    const auto n = v.at("n").to_number<std::int64_t>();
    REQUIRE(sent.count(n) == 1);
    ++seen[n];
    CHECK_MESSAGE(v == json::parse(sent[n]), m.data);
  }
  CHECK(errors == static_cast<int>(std::size(bad)));
  CHECK(seen.size() == sent.size());
  // (Not a structured binding: clang 14 refuses one captured by doctest's message lambda.)
  for (const auto& entry : seen) CHECK_MESSAGE(entry.second == 1, entry.first);
  client->stop();
  CHECK(rig.stop_engine() == 0);
}
