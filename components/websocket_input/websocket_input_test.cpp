// websocket_input with raw clients over loopback: each text frame one record, invalid JSON to the
// error port, and a frame over max_frame_size closing the connection with 1009 while what came
// before it is kept. With bridge senders: ids carry the sender's site, flow and component, and
// the site name without `site` is kept in the data dir.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "common/websocket/frame.hpp"
#include "common/websocket/link.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/record_json.hpp"
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

// A listening websocket_input, its run() on a thread of its own.
struct Hub {
  TempDir dir{"weir-ws-in"};
  std::uint16_t port = free_port();
  ThreadSafeSink sink;
  std::unique_ptr<sdk::Input> input;
  std::thread thread;
  Hub() {
    auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                                 std::to_string(port) + R"(", "site": "hub"})");
    input =
        create<sdk::Input>(p, sdk::Context{"hubflow", "in", sdk::Log("hubflow", "in"), nullptr, dir.path()});
    auto st = input->start();
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    thread = std::thread([this] { input->run(sink); });
  }
  ~Hub() {
    sink.stop = true;
    thread.join();
    input->stop();
  }
  std::size_t batches() const {
    return sink.locked([&] { return sink.batches.size(); });
  }
};

// A websocket_output of flow `flow`, component `component`, dialing the hub. `site` empty: the
// name kept in `data_dir`.
std::unique_ptr<sdk::BatchOutput> bridge_sender(std::uint16_t port, const std::string& flow,
                                                const std::string& component, const std::string& site,
                                                const std::string& data_dir = {}) {
  const std::string site_field = site.empty() ? "" : R"(, "site": ")" + site + R"(")";
  auto p = parse_config("websocket_output", R"({"mode": "connect", "url": "ws://127.0.0.1:)" +
                                                std::to_string(port) + R"(/", "reconnect_max": "200ms")" +
                                                site_field + "}");
  auto out = create<sdk::BatchOutput>(
      p, sdk::Context{flow, component, sdk::Log(flow, component), nullptr, data_dir});
  auto st = out->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  return out;
}

// What every sender sends: the same batch id, records ids, source and position.
sdk::Batch same_batch() {
  return sdk::Batch{"b1", "SRC:1 {\"n\":1}\n", 1, "out__src__out@17f", 42};
}

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
  CHECK(has_diag(parse_config("websocket_input", R"({"mode": "listen", "durability": "fsync"})").diags,
                 "invalid_value", "/components/0/config/durability"));
}

TEST_CASE("websocket_input: durability sync (the default) asks for acknowledgements on disk, none does not") {
  auto synced_metric = [](const sdk::Input& in) {
    std::vector<sdk::Metric> ms;
    in.metrics(ms);
    for (const auto& m : ms)
      if (m.name == "durability_synced") return m.value;
    return -1.0;
  };
  for (const std::string durability : {"", "sync", "none", "sync-impossible"}) {
    CAPTURE(durability);
    TempDir dir{"weir-ws-in"};
    const std::string field = durability.empty()                ? ""
                              : durability == "sync-impossible" ? R"(, "durability": "sync")"
                                                                : R"(, "durability": ")" + durability + "\"";
    auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                                 std::to_string(free_port()) + "\"" + field + "}");
    auto input = create<sdk::Input>(p, sdk::Context{"f", "in", sdk::Log("f", "in"), nullptr, dir.path()});
    REQUIRE(input->start().is_ok());
    ThreadSafeSink sink;
    sink.can_sync = durability != "sync-impossible";
    std::thread t([&] { input->run(sink); });
    std::this_thread::sleep_for(200ms);
    if (durability == "none") {
      CHECK(sink.durability == -1);
      CHECK(synced_metric(*input) == 0);
    } else {
      CHECK(sink.durability == static_cast<int>(sdk::Durability::synced));
      CHECK(synced_metric(*input) == (sink.can_sync ? 1 : 0));
    }
    sink.stop = true;
    t.join();
    input->stop();
  }
}

TEST_CASE(
    "websocket_input: raw clients' text frames become records; invalid JSON goes to the error port; "
    "an oversized frame closes with 1009") {
  TempDir dir{"weir-ws-in"};
  const auto port = free_port();
  auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                               std::to_string(port) + R"(", "max_frame_size": 4096})");
  auto input = create<sdk::Input>(p, sdk::Context{"f", "in", sdk::Log("f", "in"), nullptr, dir.path()});
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
  auto input = create<sdk::Input>(p, sdk::Context{"f", "in", sdk::Log("f", "in"), nullptr, dir.path()});
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

TEST_CASE(
    "websocket_input: bad raw records go to the error port with a reason, as records that read back as JSON: "
    "binary garbage, a number beyond a double, 10,000 nested brackets, a record over 1 MiB, binary in "
    "content "
    "text") {
  for (const std::string content : {"json", "text"}) {
    TempDir dir{"weir-ws-in"};
    const auto port = free_port();
    // Frames up to 4 MiB are taken, so that a record over the record parser's 1 MiB reaches it.
    auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                                 std::to_string(port) + R"(", "content": ")" + content +
                                                 R"(", "max_frame_size": "4MiB"})");
    auto input = create<sdk::Input>(p, sdk::Context{"f", "in", sdk::Log("f", "in"), nullptr, dir.path()});
    REQUIRE(input->start().is_ok());
    ThreadSafeSink sink;
    std::thread t([&] { input->run(sink); });
    const std::string garbage("\xFF\xD8\x00\x1B[31m\x80\xC3", 10);
    {
      RawClient a(port);
      a.ep->send(a.conn, garbage, true);
      if (content == "json") {
        a.send(R"({"v": 1e999})");
        a.send(std::string(10000, '[') + std::string(10000, ']'));
        a.send(R"({"big": ")" + std::string(1536 * 1024, 'x') + R"("})");
      }
      a.send(R"({"ok": 1})");
      const std::size_t bad = content == "json" ? 4 : 1;
      CHECK(wait_until(
          [&] { return sink.locked([&] { return sink.pushed.size() == 1 && sink.failed.size() == bad; }); },
          10s));
    }
    sink.locked([&] {
      REQUIRE(!sink.failed.empty());
      // The garbage: its bytes kept (base64) with the reason, in a record that is valid JSON, so
      // that whatever reads the error port takes it (a batch line is parsed by the same parser).
      const auto& g = sink.failed[0].first.value;
      REQUIRE(g.is_object());
      CHECK(g.at("raw_base64") == boost::json::value("/9gAG1szMW2Aww=="));
      CHECK(g.at("reason").as_string() == boost::json::string_view(sink.failed[0].second));
      sdk::RecordParser parser;
      for (const auto& [rec, reason] : sink.failed) {
        boost::json::value back;
        std::string why;
        CHECK_MESSAGE(parser.parse(sdk::to_json(rec.value), back, why), why);
      }
      if (content == "json") {
        CHECK(sink.failed[1].second.find("number out of range of a double at \"/v\"") != std::string::npos);
        CHECK(sink.failed[1].first.value == boost::json::value(R"({"v": 1e999})"));
        CHECK(sink.failed[2].second == "invalid JSON: nesting deeper than 64 levels");
        CHECK(sink.failed[3].second == "record of 1572875 bytes, more than the limit of 1048576");
      } else {
        CHECK(sink.failed[0].second == "not UTF-8 text");
      }
      return 0;
    });
    sink.stop = true;
    t.join();
    input->stop();
  }
}

TEST_CASE(
    "websocket_input: two sender flows, or two outputs of one flow, of one site never collide: ids carry "
    "site, flow and component") {
  Hub hub;
  std::atomic<int> confirmed{0};
  auto done = [&](sdk::Status st) {
    CHECK_MESSAGE(st.is_ok(), st.error());
    confirmed++;
  };
  auto a = bridge_sender(hub.port, "line1", "to_hub", "site-a");
  auto b = bridge_sender(hub.port, "line2", "to_hub", "site-a");
  auto c = bridge_sender(hub.port, "line1", "to_hub_2", "site-a");
  for (auto* out : {a.get(), b.get(), c.get()}) out->send(same_batch(), done);
  REQUIRE(wait_until([&] { return confirmed == 3; }, 10s));
  for (auto* out : {a.get(), b.get(), c.get()}) out->stop();

  auto got = hub.sink.locked([&] { return hub.sink.batches; });
  REQUIRE(got.size() == 3);
  std::sort(got.begin(), got.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  CHECK(got[0].id == "site-a/line1/to_hub/b1");
  CHECK(got[1].id == "site-a/line1/to_hub_2/b1");
  CHECK(got[2].id == "site-a/line2/to_hub/b1");
  // The sender's stream position space and the position in it, for exact replay detection.
  CHECK(got[0].source == "site-a/line1/to_hub/out__src__out@17f");
  CHECK(got[1].source == "site-a/line1/to_hub_2/out__src__out@17f");
  CHECK(got[2].source == "site-a/line2/to_hub/out__src__out@17f");
  for (const auto& batch : got) {
    CHECK(batch.position == 42);
    CHECK(batch.records == 1);
    // Record ids too: one prefix, no space.
    CHECK(batch.body == batch.id.substr(0, batch.id.size() - 2) + "SRC:1 {\"n\":1}\n");
  }
}

TEST_CASE(
    "websocket_input: a sender without `site` goes by the name kept in its data dir, start after start") {
  Hub hub;
  TempDir sender_dir{"weir-ws-out"};
  std::atomic<int> confirmed{0};
  auto done = [&](sdk::Status) { confirmed++; };
  for (int start = 1; start <= 2; ++start) {
    auto out = bridge_sender(hub.port, "line1", "to_hub", "", sender_dir.path());
    out->send(same_batch(), done);
    REQUIRE(wait_until([&] { return confirmed == start; }, 10s));
    out->stop();
  }
  std::ifstream file(sender_dir.file("site_id"));
  std::string site;
  std::getline(file, site);
  REQUIRE(ws::valid_site_name(site));
  hub.sink.locked([&] {
    REQUIRE(hub.sink.batches.size() == 2);
    CHECK(hub.sink.batches[0].id == site + "/line1/to_hub/b1");
    CHECK(hub.sink.batches[1].id == hub.sink.batches[0].id);  // the replay keeps its id
    return 0;
  });
}

TEST_CASE("websocket_input: without `site`, a data dir that cannot keep the site name fails start clearly") {
  TempDir dir{"weir-ws-in"};
  std::ofstream(dir.file("not-a-dir")) << "x";
  auto p = parse_config("websocket_input", R"({"mode": "listen", "listen": "127.0.0.1:)" +
                                               std::to_string(free_port()) + R"("})");
  auto input =
      create<sdk::Input>(p, sdk::Context{"f", "in", sdk::Log("f", "in"), nullptr, dir.file("not-a-dir")});
  auto st = input->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find(dir.file("not-a-dir") + "/site_id") != std::string::npos);
  CHECK(st.error().find("set `site`") != std::string::npos);
  input->stop();
}
