// WebSocket upgrades over loopback: refused and accepted, ordered delivery to the CLI client,
// a client that never reads, on_close, stop().
#include <doctest/doctest.h>

#include <mutex>

#include "http/client.hpp"
#include "http_test_support.hpp"

using namespace weir::http;
using namespace weir::http::testing;

namespace {

// The server side of the tests: the channels opened so far and how often on_close ran.
struct Taps {
  std::mutex mu;
  std::vector<std::shared_ptr<WsChannel>> channels;
  std::atomic<int> closes{0};
  std::atomic<int> upgrades{0};

  UpgradeHandler handler() {
    return [this](const Request& r) -> std::variant<Response, Upgrade> {
      if (r.path != "/tap") return json_error(404, "no tap at " + r.path);
      if (!bearer_matches(r.authorization, "s3cret")) return json_error(401, "wrong token");
      ++upgrades;
      return Upgrade{[this](std::shared_ptr<WsChannel> ch) {
                       std::lock_guard lock(mu);
                       channels.push_back(std::move(ch));
                     },
                     [this] { ++closes; }};
    };
  }
  std::shared_ptr<WsChannel> channel(std::size_t i) {
    std::lock_guard lock(mu);
    return i < channels.size() ? channels[i] : nullptr;
  }
  std::shared_ptr<WsChannel> wait_channel(std::size_t i) {
    std::shared_ptr<WsChannel> ch;
    wait_until([&] { return (ch = channel(i)) != nullptr; });
    return ch;
  }
};

Response not_found(const Request&) {
  return json_error(404, "not found");
}

const char* const upgrade_request =
    "GET /tap HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Authorization: Bearer s3cret\r\n\r\n";

}  // namespace

TEST_CASE("an upgrade refused with a Response: the client gets its status and body") {
  Taps taps;
  TestServer ts({}, not_found, taps.handler());
  std::string error;
  CHECK(stream_websocket(
            ts.address(), "/tap", "wrong", [](std::string_view) { return true; }, &error) == 401);
  CHECK(error == R"({"error":"wrong token","status":401})");
  CHECK(stream_websocket(
            ts.address(), "/nope", "s3cret", [](std::string_view) { return true; }, &error) == 404);
  CHECK(error == R"({"error":"no tap at /nope","status":404})");

  // Malformed upgrades never reach the UpgradeHandler.
  std::string no_key = upgrade_request;
  no_key.erase(no_key.find("Sec-WebSocket-Key"),
               no_key.find("Sec-WebSocket-Version") - no_key.find("Sec-WebSocket-Key"));
  RawConn a(ts.port());
  REQUIRE(a.send(no_key));
  CHECK(a.read_response().status == 400);
  std::string old_version = upgrade_request;
  old_version.replace(old_version.find("Version: 13"), 11, "Version: 8");
  RawConn b(ts.port());
  REQUIRE(b.send(old_version));
  const Reply r = b.read_response();
  CHECK(r.status == 426);
  CHECK(r.header("sec-websocket-version") == "13");
  CHECK(taps.upgrades == 0);
  CHECK(taps.closes == 0);
}

TEST_CASE("an accepted upgrade: messages arrive in order, on_close runs once") {
  Taps taps;
  TestServer ts({}, not_found, taps.handler());
  constexpr int count = 2000;
  std::vector<std::string> got;
  std::string error;
  std::thread sender([&] {
    auto ch = taps.wait_channel(0);
    REQUIRE(ch);
    for (int i = 0; i < count; ++i) CHECK(ch->send("m" + std::to_string(i)));
    ch->close();  // what is queued still goes out
    CHECK_FALSE(ch->send("late"));
    CHECK(ch->closed());
  });
  const int rc = stream_websocket(
      ts.address(), "/tap", "s3cret",
      [&](std::string_view m) {
        got.emplace_back(m);
        return true;
      },
      &error);
  sender.join();
  CHECK(rc == 0);
  CHECK(error == "");
  REQUIRE(got.size() == count);
  for (int i = 0; i < count; ++i) CHECK(got[i] == "m" + std::to_string(i));
  CHECK(wait_until([&] { return taps.closes == 1; }));
  const auto ch = taps.channel(0);
  CHECK(ch->sent() == count);
  CHECK(ch->dropped() == 0);
  CHECK(wait_until([&] { return ts.server.connections() == 0; }));
  CHECK(taps.closes == 1);
}

TEST_CASE("the client ends when on_message says so, or when told to stop; on_close runs once each") {
  Taps taps;
  TestServer ts({}, not_found, taps.handler());

  std::thread sender([&] {
    auto ch = taps.wait_channel(0);
    REQUIRE(ch);
    for (int i = 0; i < 3; ++i) ch->send("x");  // the client stops after the first
  });
  std::string error;
  int seen = 0;
  CHECK(stream_websocket(
            ts.address(), "/tap", "s3cret",
            [&](std::string_view) {
              ++seen;
              return false;
            },
            &error) == 0);
  sender.join();
  CHECK(seen == 1);
  CHECK(wait_until([&] { return taps.closes == 1; }));
  CHECK(taps.wait_channel(0)->closed());

  std::atomic<bool> stop{false};
  int rc = -2;
  std::thread client([&] {
    rc = stream_websocket(
        ts.address(), "/tap", "s3cret", [](std::string_view) { return true; }, &error, &stop);
  });
  REQUIRE(taps.wait_channel(1));
  stop = true;
  client.join();
  CHECK(rc == 0);
  CHECK(wait_until([&] { return taps.closes == 2; }));

  // Gone without a close frame.
  {
    RawConn c(ts.port());
    REQUIRE(c.send(upgrade_request));
    REQUIRE(taps.wait_channel(2));
  }
  CHECK(wait_until([&] { return taps.closes == 3; }));
  CHECK(taps.wait_channel(2)->closed());
  CHECK_FALSE(taps.channel(2)->send("after"));
  CHECK(wait_until([&] { return ts.server.connections() == 0; }));
  CHECK(taps.closes == 3);
}

TEST_CASE("a client that never reads: send() never blocks, the excess is dropped, close still works") {
  Taps taps;
  ServerOptions o;
  o.read_timeout = std::chrono::milliseconds(300);
  o.ws_max_backlog_bytes = 256 * 1024;
  TestServer ts(o, not_found, taps.handler());
  RawConn c(ts.port());
  REQUIRE(c.send(upgrade_request));
  while (c.pending().find("\r\n\r\n") == std::string::npos) REQUIRE(c.read_more());
  REQUIRE(c.pending().starts_with("HTTP/1.1 101"));
  auto ch = taps.wait_channel(0);
  REQUIRE(ch);

  const std::string chunk(4096, 'z');
  std::uint64_t accepted = 0;
  constexpr int messages = 50 * 256;  // 50 MiB
  for (int i = 0; i < messages; ++i) accepted += ch->send(chunk) ? 1 : 0;
  // The loop finished although nobody reads.
  CHECK(ch->dropped() > 0);
  CHECK(accepted + ch->dropped() == messages);
  CHECK(ch->sent() <= accepted);

  ch->close();
  CHECK(ch->closed());
  CHECK(wait_until([&] { return taps.closes == 1; }));
  CHECK(wait_until([&] { return ts.server.connections() == 0; }));
  CHECK(c.wait_closed());
  CHECK(taps.closes == 1);
}

TEST_CASE("without an UpgradeHandler an upgrade request goes to the Handler") {
  TestServer ts({}, [](const Request&) { return json_error(426, "no websockets here"); });
  std::string error;
  CHECK(stream_websocket(
            ts.address(), "/tap", "", [](std::string_view) { return true; }, &error) == 426);
  CHECK(error == R"({"error":"no websockets here","status":426})");
}

TEST_CASE("stop() with WebSockets open returns; on_close has run and the clients end") {
  Taps taps;
  TestServer ts({}, not_found, taps.handler());
  std::atomic<int> ended{0};
  std::vector<std::thread> clients;
  std::vector<int> rcs(3, -2);
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      std::string error;
      rcs[i] = stream_websocket(
          ts.address(), "/tap", "s3cret", [](std::string_view) { return true; }, &error);
      ++ended;
    });
  }
  REQUIRE(taps.wait_channel(2));
  RawConn silent(ts.port());  // never answers the close frame
  REQUIRE(silent.send(upgrade_request));
  REQUIRE(taps.wait_channel(3));
  ts.server.stop();
  CHECK(taps.closes == 4);
  CHECK(ts.server.connections() == 0);
  for (auto& t : clients) t.join();
  CHECK(rcs == std::vector<int>{0, 0, 0});
  CHECK(silent.wait_closed());
  for (int i = 0; i < 4; ++i) CHECK_FALSE(taps.channel(i)->send("late"));
}
