// websocket_input with raw clients over loopback: each text frame one record, invalid JSON to the
// error port, and a frame over max_frame_size closing the connection with 1009 while what came
// before it is kept.
#include <doctest/doctest.h>

#include <fstream>
#include <thread>

#include "common/websocket/link.hpp"
#include "support/component_testing.hpp"
#include "support/free_port.hpp"
#include "support/nats_harness.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

struct RawClient {
  std::atomic<bool> open{false};
  std::atomic<int> close_code{0};
  std::unique_ptr<ws::Endpoint> ep;
  std::atomic<ws::ConnId> conn{0};
  explicit RawClient(std::uint16_t port) {
    ws::EndpointOptions co;
    co.mode = ws::EndpointOptions::Mode::connect;
    co.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    co.offer_bridge = false;
    co.reconnect_min = 10s;  // one connection is enough
    co.reconnect_max = 10s;
    ws::Handlers h;
    h.on_open = [this](ws::ConnId c, bool, const std::string&) {
      conn = c;
      open = true;
    };
    h.on_close = [this](ws::ConnId, int code, const std::string&) { close_code = code; };
    std::string error;
    ep = ws::Endpoint::create(co, h, error);
    REQUIRE_MESSAGE(ep, error);
    REQUIRE_MESSAGE(ep->start(error), error);
    REQUIRE(wait_until([&] { return open.load(); }, 10s));
  }
  void send(const std::string& text) { ep->send(conn, text, false); }
  ~RawClient() { ep->stop(); }
};

}  // namespace

TEST_CASE("websocket_input: config checks") {
  CHECK(has_diag(parse_config("websocket_input", R"({"mode": "listen", "path": "x"})").diags, "invalid_value",
                 "/components/0/config/path"));
  CHECK(has_diag(parse_config("websocket_input", R"({"mode": "connect", "url": ""})").diags, "invalid_value",
                 "/components/0/config/url"));
  CHECK(has_diag(parse_config("websocket_input", R"({"mode": "listen", "tls": {"ca": "ca.crt"}})").diags,
                 "invalid_value", "/components/0/config/tls"));
  CHECK(has_diag(parse_config("websocket_input", R"({"mode": "listen", "content": "xml"})").diags,
                 "invalid_value", "/components/0/config/content"));
}

TEST_CASE(
    "websocket_input: raw clients' text frames become records; invalid JSON goes to the error port; "
    "an oversized frame closes with 1009") {
  TempDir dir{"weir-ws-in"};
  const auto port = free_port();
  auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                               std::to_string(port) + R"(", "max_frame_size": 4096})");
  auto input = create<sdk::Input>(p, sdk::Context{"f", "in", "[f/in]", nullptr, dir.path()});
  REQUIRE(input->start().is_ok());
  ThreadSafeSink sink;
  std::thread t([&] { input->run(sink); });
  {
    RawClient a(port), b(port);  // several clients at once
    a.send(R"({"a":1})");
    b.send(R"({"b":2})");
    a.send("not json");
    CHECK(wait_until(
        [&] { return sink.locked([&] { return sink.pushed.size() == 2 && sink.failed.size() == 1; }); },
        10s));
    a.send(std::string(5000, 'x'));
    CHECK(wait_until([&] { return a.close_code.load() == 1009; }, 10s));
    CHECK(a.close_code.load() == 1009);
    b.send(R"({"b":3})");
    CHECK(wait_until([&] { return sink.locked([&] { return sink.pushed.size() == 3; }); }, 10s));
  }
  sink.locked([&] {
    CHECK(sink.failed[0].second.find("invalid JSON") != std::string::npos);
    CHECK(sink.failed[0].first.value == boost::json::value("not json"));
    return 0;
  });
  sink.stop = true;
  t.join();
  input->stop();
}

TEST_CASE("websocket_input: with content text a frame becomes a JSON string as it is") {
  TempDir dir{"weir-ws-in"};
  const auto port = free_port();
  auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                               std::to_string(port) + R"(", "content": "text"})");
  auto input = create<sdk::Input>(p, sdk::Context{"f", "in", "[f/in]", nullptr, dir.path()});
  REQUIRE(input->start().is_ok());
  ThreadSafeSink sink;
  std::thread t([&] { input->run(sink); });
  {
    RawClient a(port);
    a.send("hello {");
    CHECK(wait_until([&] { return sink.locked([&] { return sink.pushed.size() == 1; }); }, 10s));
  }
  sink.locked([&] {
    CHECK(sink.pushed[0].value == boost::json::value("hello {"));
    return 0;
  });
  sink.stop = true;
  t.join();
  input->stop();
}

TEST_CASE("websocket_input: without `site`, a data dir that cannot keep the site name fails start clearly") {
  TempDir dir{"weir-ws-in"};
  std::ofstream(dir.file("not-a-dir")) << "x";
  auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                               std::to_string(free_port()) + R"("})");
  auto input = create<sdk::Input>(p, sdk::Context{"f", "in", "[f/in]", nullptr, dir.file("not-a-dir")});
  auto st = input->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find(dir.file("not-a-dir") + "/site_id") != std::string::npos);
  CHECK(st.error().find("set `site`") != std::string::npos);
  input->stop();
}
