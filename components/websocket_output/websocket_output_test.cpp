// websocket_output against a real websocket_input (and a raw client) over loopback, without an
// engine: batches are confirmed only after the receiver stored them, a sender that starts over
// gets its replays confirmed under their first ids, and raw clients get JSON text frames.
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

struct Results {
  std::mutex mu;
  std::vector<std::pair<std::string, sdk::Status>> done;  // batch id, status
  sdk::BatchOutput::Done callback(const std::string& id) {
    return [this, id](sdk::Status st) {
      std::lock_guard l(mu);
      done.emplace_back(id, std::move(st));
    };
  }
  std::size_t count() {
    std::lock_guard l(mu);
    return done.size();
  }
};

sdk::Batch batch(const std::string& id, std::uint64_t position, std::vector<std::string> lines) {
  sdk::Batch b{id, "", lines.size(), "sink__src__out@1", position};
  for (auto& l : lines) b.body += l + "\n";
  return b;
}

// A receiving websocket_input with its run() on a thread of its own.
struct Receiver {
  TempDir dir{"weir-ws-in"};
  std::uint16_t port = free_port();
  ThreadSafeSink sink;
  std::unique_ptr<sdk::Input> input;
  std::thread thread;
  explicit Receiver(const std::string& extra = "") {
    auto p =
        parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" + std::to_string(port) +
                                            R"(", "token": "t0k", "site": "hub")" + extra + "}");
    sdk::Context ctx{"hubflow", "in", sdk::Log("hubflow", "in"), nullptr, dir.path()};
    input = create<sdk::Input>(p, ctx);
    auto st = input->start();
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    thread = std::thread([this] { input->run(sink); });
  }
  ~Receiver() {
    sink.stop = true;
    thread.join();
    input->stop();
  }
};

std::unique_ptr<sdk::BatchOutput> sender(std::uint16_t port, const std::string& token = "t0k") {
  auto p = parse_config("websocket_output", R"({"mode": "connect", "url": "ws://127.0.0.1:)" +
                                                std::to_string(port) + R"(/", "token": ")" + token +
                                                R"(", "site": "site-a", "reconnect_max": "200ms"})");
  auto out = create<sdk::BatchOutput>(p, sdk::Context{"aflow", "out", sdk::Log("aflow", "out"), nullptr, {}});
  auto st = out->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  return out;
}

}  // namespace

TEST_CASE("websocket_output: config checks") {
  CHECK(has_diag(parse_config("websocket_output", R"({"mode": "connect"})").diags, "invalid_value",
                 "/components/0/config/url"));
  CHECK(has_diag(parse_config("websocket_output", R"({"mode": "connect", "url": "http://x/"})").diags,
                 "invalid_value", "/components/0/config/url"));
  CHECK(has_diag(
      parse_config("websocket_output", R"({"mode": "connect", "url": "ws://x/", "raw_only": true})").diags,
      "invalid_value", "/components/0/config/raw_only"));
  CHECK(has_diag(parse_config("websocket_output", R"({"mode": "listen", "tls": {"cert": "a.crt"}})").diags,
                 "invalid_value", "/components/0/config/tls"));
  CHECK(has_diag(parse_config("websocket_output", R"({"mode": "listen", "listen": "8765"})").diags,
                 "invalid_value", "/components/0/config/listen"));
  CHECK(has_diag(
      parse_config("websocket_output", R"({"mode": "connect", "url": "ws://x/", "site": "a b"})").diags,
      "invalid_value", "/components/0/config/site"));
  auto ok =
      parse_config("websocket_output", R"({"mode": "connect", "url": "wss://hub:8765/", "token": "x"})");
  CHECK_MESSAGE(ok.config != nullptr, dump(ok.diags));
}

TEST_CASE("websocket_output: without `site`, a data dir that cannot keep the site name fails start clearly") {
  TempDir dir{"weir-ws-out"};
  std::ofstream(dir.file("not-a-dir")) << "x";
  auto p = parse_config("websocket_output", R"({"mode": "connect", "url": "ws://127.0.0.1:1/"})");
  auto out = create<sdk::BatchOutput>(
      p, sdk::Context{"aflow", "out", sdk::Log("aflow", "out"), nullptr, dir.file("not-a-dir")});
  auto st = out->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find(dir.file("not-a-dir") + "/site_id") != std::string::npos);
  CHECK(st.error().find("set `site`") != std::string::npos);
  out->stop();
}

TEST_CASE("websocket_output: batches are confirmed after the receiver stored them, in order, ids prefixed") {
  Receiver rx;
  auto out = sender(rx.port);
  Results results;
  for (int i = 1; i <= 5; ++i) {
    auto id = "b" + std::to_string(i);
    out->send(batch(id, static_cast<std::uint64_t>(i),
                    {"SRC:" + std::to_string(i) + " {\"n\":" + std::to_string(i) + "}"}),
              results.callback(id));
  }
  REQUIRE(wait_until([&] { return results.count() == 5; }, 10s));
  for (int i = 0; i < 5; ++i) {
    CHECK(results.done[i].first == "b" + std::to_string(i + 1));
    CHECK(results.done[i].second.is_ok());
  }
  rx.sink.locked([&] {
    REQUIRE(rx.sink.batches.size() == 5);
    CHECK(rx.sink.batches[0].id == "site-a/aflow/out/b1");
    CHECK(rx.sink.batches[0].records == 1);
    CHECK(rx.sink.batches[0].body == "site-a/aflow/out/SRC:1 {\"n\":1}\n");
    return 0;
  });
  out->stop();

  // The sender starts over (a restart) and sends 4 and 5 again, then 6: all are confirmed, and
  // the replays reach the receiving flow with the ids they had the first time, which its
  // stream's duplicate window drops (the engine tests check that end to end).
  auto again = sender(rx.port);
  Results r2;
  for (int i = 4; i <= 6; ++i) {
    auto id = "b" + std::to_string(i);
    again->send(batch(id, static_cast<std::uint64_t>(i), {"SRC:" + std::to_string(i) + " {}"}),
                r2.callback(id));
  }
  REQUIRE(wait_until([&] { return r2.count() == 3; }, 10s));
  for (auto& entry : r2.done) CHECK_MESSAGE(entry.second.is_ok(), entry.first);
  rx.sink.locked([&] {
    REQUIRE(rx.sink.batches.size() == 8);
    CHECK(rx.sink.batches[5].id == rx.sink.batches[3].id);
    CHECK(rx.sink.batches[6].id == rx.sink.batches[4].id);
    CHECK(rx.sink.batches[7].id == "site-a/aflow/out/b6");
    return 0;
  });
  again->stop();
}

TEST_CASE("websocket_output: batches wait while nobody listens and go out once the receiver is up") {
  const auto port = free_port();
  auto out = sender(port);
  Results results;
  out->send(batch("w1", 1, {"r1 1", "r2 2"}), results.callback("w1"));
  std::this_thread::sleep_for(500ms);
  CHECK(results.count() == 0);
  std::vector<sdk::Metric> m;
  out->metrics(m);
  for (auto& x : m) {
    if (x.name == "link_up") CHECK(x.value == 0);
    if (x.name == "batches_waiting") CHECK(x.value == 1);
  }
  TempDir dir{"weir-ws-in"};
  auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                               std::to_string(port) + R"(", "token": "t0k"})");
  auto input =
      create<sdk::Input>(p, sdk::Context{"hubflow", "in", sdk::Log("hubflow", "in"), nullptr, dir.path()});
  REQUIRE(input->start().is_ok());
  ThreadSafeSink sink;
  std::thread t([&] { input->run(sink); });
  CHECK(wait_until([&] { return results.count() == 1; }, 15s));
  sink.stop = true;
  t.join();
  input->stop();
  out->stop();
}

TEST_CASE("websocket_output: a wrong token never opens the link") {
  Receiver rx;
  auto out = sender(rx.port, "wrong");
  Results results;
  out->send(batch("x", 1, {"r 1"}), results.callback("x"));
  std::this_thread::sleep_for(1s);
  CHECK(results.count() == 0);
  rx.sink.locked([&] {
    CHECK(rx.sink.batches.empty());
    return 0;
  });
  std::vector<sdk::Metric> m;
  rx.input->metrics(m);
  for (auto& x : m)
    if (x.name == "upgrades_rejected") CHECK(x.value >= 1);
  out->stop();
}

TEST_CASE("websocket_output: raw clients get one JSON value per text frame") {
  const auto port = free_port();
  auto p = parse_config("websocket_output", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                                std::to_string(port) + R"(", "raw_only": true})");
  auto out = create<sdk::BatchOutput>(p, sdk::Context{"aflow", "out", sdk::Log("aflow", "out"), nullptr, {}});
  REQUIRE(out->start().is_ok());

  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<bool> open{false};
  ws::EndpointOptions co;
  co.mode = ws::EndpointOptions::Mode::connect;
  co.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
  co.offer_bridge = false;
  ws::Handlers h;
  h.on_open = [&](ws::ConnId, bool bridge, const std::string&) { open = !bridge; };
  h.on_message = [&](ws::ConnId, std::string&& m, bool binary) {
    std::lock_guard l(mu);
    got.push_back(std::string(binary ? "B:" : "T:") + m);
  };
  std::string error;
  auto client = ws::Endpoint::create(co, h, error);
  REQUIRE_MESSAGE(client, error);
  REQUIRE_MESSAGE(client->start(error), error);
  REQUIRE(wait_until([&] { return open.load(); }, 10s));
  // The server side may register the client a moment after the client saw the upgrade.
  std::this_thread::sleep_for(200ms);
  Results results;
  out->send(batch("r", 1, {"a 1", R"(b {"x":2})"}), results.callback("r"));
  CHECK(wait_until([&] { return results.count() == 1; }, 5s));
  CHECK(wait_until(
      [&] {
        std::lock_guard l(mu);
        return got.size() == 2;
      },
      10s));
  {
    std::lock_guard l(mu);
    REQUIRE(got.size() == 2);
    CHECK(got[0] == "T:1");
    CHECK(got[1] == R"(T:{"x":2})");
  }
  client->stop();
  out->stop();
}

TEST_CASE(
    "websocket_output: a batch larger than the peer takes is refused (dead letters), the next goes through") {
  Receiver rx(R"(, "max_frame_size": 4096)");
  auto out = sender(rx.port);
  Results results;
  out->send(batch("big", 1, {"r1 \"" + std::string(5000, 'x') + "\""}), results.callback("big"));
  out->send(batch("small", 2, {"r2 2"}), results.callback("small"));
  REQUIRE(wait_until([&] { return results.count() == 2; }, 10s));
  CHECK(results.done[0].first == "big");
  CHECK_FALSE(results.done[0].second.is_ok());
  CHECK(results.done[0].second.error().find("max_frame_size") != std::string::npos);
  CHECK(results.done[1].second.is_ok());
  rx.sink.locked([&] {
    REQUIRE(rx.sink.batches.size() == 1);
    CHECK(rx.sink.batches[0].id == "site-a/aflow/out/small");
    return 0;
  });
  out->stop();
}

TEST_CASE("websocket_output: the other way round, the output listens and the input dials in") {
  const auto port = free_port();
  auto po =
      parse_config("websocket_output", R"({"mode": "listen", "listen": "127.0.0.1:)" + std::to_string(port) +
                                           R"(", "token": "t0k", "site": "site-a"})");
  auto out =
      create<sdk::BatchOutput>(po, sdk::Context{"aflow", "out", sdk::Log("aflow", "out"), nullptr, {}});
  REQUIRE(out->start().is_ok());
  Results results;
  out->send(batch("b1", 1, {"r1 1"}), results.callback("b1"));  // waits for the peer to dial in

  TempDir dir{"weir-ws-in"};
  auto pi = parse_config("websocket_input",
                         R"({"mode": "connect", "url": "ws://127.0.0.1:)" + std::to_string(port) +
                             R"(/", "token": "t0k", "site": "hub", "reconnect_max": "200ms"})");
  auto input =
      create<sdk::Input>(pi, sdk::Context{"hubflow", "in", sdk::Log("hubflow", "in"), nullptr, dir.path()});
  REQUIRE(input->start().is_ok());
  ThreadSafeSink sink;
  std::thread t([&] { input->run(sink); });
  CHECK(wait_until([&] { return results.count() == 1; }, 10s));
  out->send(batch("b2", 2, {"r2 2"}), results.callback("b2"));
  CHECK(wait_until([&] { return results.count() == 2; }, 10s));
  sink.locked([&] {
    REQUIRE(sink.batches.size() == 2);
    CHECK(sink.batches[1].body == "site-a/aflow/out/r2 2\n");
    return 0;
  });
  sink.stop = true;
  t.join();
  input->stop();
  out->stop();
}
