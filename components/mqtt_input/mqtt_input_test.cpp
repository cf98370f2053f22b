// mqtt_input against a real mosquitto broker: what is acknowledged when, what a restart brings
// again, and how payloads become records. The engine's sink is played by the test, which decides
// when a record counts as stored.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "mqtt_input/mqtt_input.hpp"
#include "sdk/base/json_write.hpp"
#include "support/component_testing.hpp"
#include "support/mosquitto_harness.hpp"
#include "support/nats_harness.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// Runs a shell command; fails the test when it exits non-zero.
void sh(const std::string& cmd) {
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

// Publishes one message per line of `lines` to `topic` with mosquitto_pub (an independent client).
void publish(const Mosquitto& broker, const std::string& topic, const std::vector<std::string>& lines,
             int qos, const std::string& args = "") {
  std::string input;
  for (const auto& l : lines) input += l + "\n";
  const std::string file = broker.dir() + "/pub.txt";
  FILE* f = std::fopen(file.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fwrite(input.data(), 1, input.size(), f);
  std::fclose(f);
  sh("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) + " -q " + std::to_string(qos) +
     " -t '" + topic + "' " + args + " -l < " + file);
}

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("{\"n\":" + std::to_string(i) + "}");
  return out;
}

// A sink that keeps each record's on_durable until the test runs it: until then the flow has
// not stored the record.
struct HoldingSink : ThreadSafeSink {
  std::vector<std::function<void()>> held;
  bool push(sdk::Record&& rec, std::function<void()> on_durable) override {
    std::lock_guard l(mu);
    pushed.push_back(std::move(rec));
    held.push_back(std::move(on_durable));
    return !stop;
  }
  void store_first(std::size_t n) {
    std::vector<std::function<void()>> run;
    {
      std::lock_guard l(mu);
      for (std::size_t i = 0; i < n && i < held.size(); ++i) run.push_back(std::move(held[i]));
    }
    for (auto& f : run)
      if (f) f();
  }
};

// One running input: its component and the thread of its run().
struct Running {
  std::unique_ptr<sdk::Input> input;
  std::thread thread;
  sdk::InputSink* sink = nullptr;

  Running(const std::string& config, ThreadSafeSink& s, const std::string& data_dir) : sink(&s) {
    auto p = parse_config("mqtt_input", config);
    auto ctx = test_context("in");
    ctx.data_dir = data_dir;
    input = create<sdk::Input>(p, ctx);
    auto st = input->start();
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    thread = std::thread([this, &s] { input->run(s); });
  }
  ~Running() { stop(); }
  void stop() {
    if (!input) return;
    static_cast<ThreadSafeSink*>(sink)->stop = true;
    thread.join();
    input->stop();
    input.reset();
  }
};

// Connected, and the subscription granted: what is published from now on arrives.
void await_link(const Running& r) {
  REQUIRE(wait_until([&] { return metric(*r.input, "link_up") == 1; }, 10s));
}

std::size_t pushed(const ThreadSafeSink& s) {
  return s.locked([&] { return s.pushed.size(); });
}

std::string config(const Mosquitto& b, int qos, const std::string& extra = "") {
  return R"({"url": ")" + b.url() + R"(", "topics": ["t/#"], "client_id": "weir-test-in", "qos": )" +
         std::to_string(qos) + extra + "}";
}

}  // namespace

TEST_CASE("QoS 1: a message is acknowledged to the broker only once the flow stored it") {
  Mosquitto broker;
  TempDir data;
  const auto cfg = config(broker, 1);
  {
    // The first run takes 20 messages and never stores them: it stops as a crash would leave
    // them (no PUBACK was sent).
    HoldingSink held;
    Running a(cfg, held, data.path());
    await_link(a);
    publish(broker, "t/a", numbered(0, 20), 1);
    REQUIRE(wait_until([&] { return pushed(held) == 20; }, 10s));
    CHECK(metric(*a.input, "messages_acked") == 0);
  }
  {
    // The broker sends all 20 again; this run stores them (on_durable at once).
    ThreadSafeSink sink;
    Running b(cfg, sink, data.path());
    REQUIRE(wait_until([&] { return pushed(sink) == 20; }, 15s));
    CHECK(metric(*b.input, "messages_acked") == 20);
    sink.locked([&] {
      for (int i = 0; i < 20; ++i)
        CHECK(sink.pushed[static_cast<std::size_t>(i)].value.at("n").to_number<int>() == i);
      return 0;
    });
  }
  {
    // Acknowledged: nothing comes a third time.
    ThreadSafeSink sink;
    Running c(cfg, sink, data.path());
    await_link(c);
    std::this_thread::sleep_for(1s);
    CHECK(pushed(sink) == 0);
  }
}

TEST_CASE("QoS 2: what was stored and PUBREC'd is not stored again by the next run") {
  Mosquitto broker;
  TempDir data;
  const auto cfg = config(broker, 2);
  {
    HoldingSink held;
    Running a(cfg, held, data.path());
    await_link(a);
    publish(broker, "t/a", numbered(0, 20), 2);
    REQUIRE(wait_until([&] { return pushed(held) == 20; }, 10s));
    held.store_first(12);  // 12 stored: PUBREC goes out for them, the broker releases them
    REQUIRE(wait_until([&] { return metric(*a.input, "messages_acked") == 12; }, 10s));
  }
  ThreadSafeSink sink;
  Running b(cfg, sink, data.path());
  await_link(b);
  REQUIRE(wait_until([&] { return pushed(sink) == 8; }, 15s));
  std::this_thread::sleep_for(1s);
  sink.locked([&] {
    REQUIRE(sink.pushed.size() == 8);
    for (int i = 0; i < 8; ++i)
      CHECK(sink.pushed[static_cast<std::size_t>(i)].value.at("n").to_number<int>() == 12 + i);
    return 0;
  });
}

TEST_CASE(
    "a persistent session keeps what was published while the input was away, and through a broker restart") {
  Mosquitto broker;
  TempDir data;
  const auto cfg = config(broker, 1);
  {
    ThreadSafeSink sink;
    Running a(cfg, sink, data.path());
    await_link(a);  // the session exists from now on
  }
  publish(broker, "t/a", numbered(0, 10), 1);  // nobody connected: the broker queues them
  ThreadSafeSink sink;
  Running b(cfg, sink, data.path());
  REQUIRE(wait_until([&] { return pushed(sink) == 10; }, 15s));
  broker.restart();
  REQUIRE(
      wait_until([&] { return metric(*b.input, "connects") >= 2 && metric(*b.input, "link_up") == 1; }, 20s));
  publish(broker, "t/b", numbered(10, 20), 1);
  // QoS 1 is at least once: a message the restarted broker sends again may be stored twice.
  const auto all_there = [&] {
    return sink.locked([&] {
      std::set<int> seen;
      for (const auto& r : sink.pushed) seen.insert(r.value.at("n").to_number<int>());
      return seen.size() == 20 && *seen.begin() == 0 && *seen.rbegin() == 19;
    });
  };
  REQUIRE_MESSAGE(wait_until(all_there, 15s), "records pushed: " << pushed(sink));
  CHECK(metric(*b.input, "disconnects") >= 1);
}

TEST_CASE("payloads: JSON, text, the topic in the record, and what is not JSON goes to error") {
  Mosquitto broker;
  TempDir data;
  SUBCASE("json with topic_field") {
    ThreadSafeSink sink;
    Running r(config(broker, 0, R"(, "topic_field": "topic")"), sink, data.path());
    await_link(r);
    publish(broker, "t/x/y", {R"({"a": 1})", "[1, 2]", "not json"}, 0);
    REQUIRE(wait_until(
        [&] { return pushed(sink) == 2 && sink.locked([&] { return sink.failed.size(); }) == 1; }, 10s));
    sink.locked([&] {
      CHECK(sdk::to_json(sink.pushed[0].value) == R"({"a":1,"topic":"t/x/y"})");
      CHECK(sdk::to_json(sink.pushed[1].value) == R"({"payload":[1,2],"topic":"t/x/y"})");
      CHECK(sink.failed[0].second.find("invalid JSON") != std::string::npos);
      CHECK(sink.failed[0].first.value.at("topic").as_string() == "t/x/y");
      return 0;
    });
  }
  SUBCASE("text") {
    ThreadSafeSink sink;
    Running r(config(broker, 1, R"(, "content": "text")"), sink, data.path());
    await_link(r);
    publish(broker, "t/x", {"plain words"}, 1);
    REQUIRE(wait_until([&] { return pushed(sink) == 1; }, 10s));
    CHECK(sink.locked([&] { return std::string(sink.pushed[0].value.as_string()); }) == "plain words");
  }
}

TEST_CASE("a wrong password is refused, logged and retried; the right one connects (MQTT 5 too)") {
  MosquittoOptions o;
  o.username = "edge";
  o.password = "s3cret";
  Mosquitto broker(o);
  TempDir data;
  for (const std::string version : {"3.1.1", "5"}) {
    CAPTURE(version);
    ThreadSafeSink bad_sink;
    Running bad(
        config(broker, 1, R"(, "username": "edge", "password": "wrong", "version": ")" + version + "\""),
        bad_sink, data.path());
    std::this_thread::sleep_for(1s);
    CHECK(metric(*bad.input, "link_up") == 0);
    CHECK(metric(*bad.input, "connects") == 0);
    bad.stop();
    ThreadSafeSink sink;
    Running good(
        config(broker, 1, R"(, "username": "edge", "password": "s3cret", "version": ")" + version + "\""),
        sink, data.path());
    await_link(good);
    publish(broker, "t/a", numbered(0, 3), 1, "-u edge -P s3cret");
    REQUIRE(wait_until([&] { return pushed(sink) == 3; }, 10s));
  }
}

TEST_CASE("DeliveryLog: positions never repeat, entries survive a reopen, a torn line is ignored") {
  TempDir dir;
  const auto path = dir.file("m/in.deliveries");
  std::string source;
  std::uint64_t last = 0;
  {
    components::mqtt_input::DeliveryLog m;
    REQUIRE(m.open(path, "cl id").empty());
    source = m.source(m.run());
    CHECK(source.rfind("mqtt:cl_id:", 0) == 0);
    CHECK(m.arrive(7, 0xabcdef).pos == 1);
    CHECK(m.arrive(9, 42).pos == 2);
    last = m.arrive(11, 5).pos;
    m.remove(7);
  }
  {
    FILE* f = std::fopen(path.c_str(), "a");
    std::fputs("+ 12 00000000000000", f);  // a kill in the middle of a line
    std::fclose(f);
    components::mqtt_input::DeliveryLog m;
    REQUIRE(m.open(path, "cl id").empty());
    CHECK(m.source(1) == source);  // the first run's source: its resends come back under it
    CHECK(m.run() == 2);           // a run of its own for what it takes
    CHECK(m.size() == 2);
    CHECK(m.find(9, 42).pos == 2);
    CHECK(m.find(9, 42).run == 1);
    CHECK(m.find(9, 43).pos == 0);
    CHECK(m.find(7, 0xabcdef).pos == 0);
    // Positions restart above the last reservation (a power cut may have lost the last lines).
    CHECK(m.arrive(7, 1).pos > last);
    m.clear();
    CHECK(m.size() == 0);
  }
  std::filesystem::remove(path);
  components::mqtt_input::DeliveryLog m;
  REQUIRE(m.open(path, "cl id").empty());
  CHECK(m.source(1) != source);  // a lost file is a new source: nothing new looks like a replay
}

TEST_CASE(
    "DeliveryLog: a released QoS 2 entry is still found (a restarted broker's stale resend), until "
    "replaced") {
  // mosquitto 2.0.11 restarted before our PUBCOMP reached it sends the PUBLISH again (DUP set)
  // for messages it had already released with PUBREL: their positions must still be found, or
  // they are stored twice.
  TempDir dir;
  const auto path = dir.file("m/in.deliveries");
  std::uint64_t pos = 0;
  {
    components::mqtt_input::DeliveryLog m;
    REQUIRE(m.open(path, "c").empty());
    pos = m.arrive(5, 77).pos;
    m.arrive(6, 88);
    m.release(5);
    CHECK(m.size() == 1);  // released ones do not count as unacknowledged
    CHECK(m.find(5, 77).pos == pos);
  }
  {
    components::mqtt_input::DeliveryLog m;  // after a kill too
    REQUIRE(m.open(path, "c").empty());
    CHECK(m.size() == 1);
    CHECK(m.find(5, 77).pos == pos);
    CHECK(m.find(5, 78).pos == 0);  // another message with the id is a new one
    // A new message with the id replaces the released entry.
    const auto again = m.arrive(5, 99).pos;
    CHECK(m.find(5, 77).pos == 0);
    CHECK(m.find(5, 99).pos == again);
    // The oldest released entries go beyond 32,768 (half the id space: a broker numbering its
    // messages in turn uses an id again only after 65,535 others).
    for (std::uint16_t id = 100; id < 100 + 32768; ++id) {
      m.arrive(id, id);
      m.release(id);
    }
    CHECK(m.find(100, 100).pos != 0);
    m.arrive(40000, 1);
    m.release(40000);
    CHECK(m.find(100, 100).pos == 0);
    CHECK(m.find(101, 101).pos != 0);
    CHECK(m.find(40000, 1).pos != 0);
  }
  components::mqtt_input::DeliveryLog m;  // the compacted file keeps the same entries
  REQUIRE(m.open(path, "c").empty());
  CHECK(m.find(100, 100).pos == 0);
  CHECK(m.find(101, 101).pos != 0);
  CHECK(m.find(40000, 1).pos != 0);
  CHECK(m.size() == 2);  // 6 and the new 5
}

TEST_CASE("QoS 1 and 2: a message the killed run stored is stored once, also when it comes again") {
  // The engine's replay detection is played by the sink: a position it has seen is not kept.
  struct PositionSink : ThreadSafeSink {
    std::set<std::pair<std::string, std::uint64_t>> seen;
    std::size_t replays = 0;
    bool push_at(const sdk::Position& at, sdk::Record&& rec, std::function<void()> on_durable) override {
      {
        std::lock_guard l(mu);
        if (!seen.emplace(std::string(at.source), at.seq).second) {
          ++replays;
        } else {
          pushed.push_back(std::move(rec));
        }
      }
      if (on_durable) on_durable();
      return !stop;
    }
  };
  for (int qos : {1, 2}) {
    CAPTURE(qos);
    Mosquitto broker;
    TempDir data;
    const auto cfg = config(broker, qos);
    PositionSink sink;
    {
      // The first run stores (the sink keeps them) but is killed before any acknowledgement:
      // on_durable never runs.
      struct Unacked : PositionSink {
        PositionSink* into = nullptr;
        bool push_at(const sdk::Position& at, sdk::Record&& rec, std::function<void()>) override {
          return into->push_at(at, std::move(rec), {});
        }
      } first;
      first.into = &sink;
      Running a(cfg, first, data.path());
      await_link(a);
      publish(broker, "t/a", numbered(0, 20), qos);
      REQUIRE(wait_until([&] { return pushed(sink) == 20; }, 10s));
    }
    Running b(cfg, sink, data.path());
    REQUIRE(wait_until([&] { return sink.locked([&] { return sink.replays; }) == 20; }, 15s));
    std::this_thread::sleep_for(500ms);
    CHECK(pushed(sink) == 20);
    CHECK(metric(*b.input, "messages_resent") == 20);
    CHECK(metric(*b.input, "messages_acked") == 20);
  }
}

// ---- Review tests: a scripted broker (tests/support/mqtt_fake_broker.hpp) for what mosquitto does not
// show on demand.

#include "support/mqtt_fake_broker.hpp"

namespace review_fake = weir::testing::fake_broker;

TEST_CASE("review: QoS 1: a new message that reuses an acknowledged packet id, same content, is stored") {
  // MQTT 3.1.1 §2.3.1: once the broker has the PUBACK, the packet id is free and the next message
  // may take it. A link that drops before that message arrives makes the broker send it again
  // with DUP (§4.4). Same topic and payload as the message acknowledged earlier (a status, a
  // heartbeat): the input must store it, not take it for a resend of the old one.
  using namespace review_fake;
  FakeBroker broker;
  TempDir data;
  ThreadSafeSink sink;
  Running r(R"({"url": ")" + broker.url() + R"(", "topics": ["t/#"], "client_id": "weir-test-in", "qos": 1})",
            sink, data.path());
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(false));
  auto sub = broker.expect(Type::subscribe);
  REQUIRE(sub);
  broker.send(suback(id_at(*sub), 1));
  broker.send(publish("t/a", R"({"on":true})", 1, 7, false));
  REQUIRE(broker.expect(Type::puback));
  REQUIRE(pushed(sink) == 1);
  // Id 7 is free again; the broker sends the next message with it, and the link drops first.
  broker.drop();
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(true));
  sub = broker.expect(Type::subscribe);
  REQUIRE(sub);
  broker.send(suback(id_at(*sub), 1));
  broker.send(publish("t/a", R"({"on":true})", 1, 7, true));
  auto puback = broker.expect(Type::puback);
  REQUIRE(puback);
  CHECK(id_at(*puback) == 7);
  // Acknowledged: the broker forgets it. It must be in the flow, then.
  CHECK(wait_until([&] { return pushed(sink) == 2; }, 3s));
}

TEST_CASE("review: a message the broker sends before its SUBACK (new session) is acknowledged once stored") {
  // MQTT 3.1.1 §3.8.4 / 5.0 §3.8.4: the server may send PUBLISH packets matching a subscription
  // before the SUBACK.
  using namespace review_fake;
  FakeBroker broker;
  TempDir data;
  HoldingSink sink;
  Running r(R"({"url": ")" + broker.url() + R"(", "topics": ["t/#"], "client_id": "weir-test-in", "qos": 1})",
            sink, data.path());
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(false));
  auto sub = broker.expect(Type::subscribe);
  REQUIRE(sub);
  broker.send(publish("t/a", R"({"n":1})", 1, 1, false));
  REQUIRE(wait_until([&] { return pushed(sink) == 1; }, 5s));
  broker.send(suback(id_at(*sub), 1));
  await_link(r);
  std::this_thread::sleep_for(100ms);
  sink.store_first(1);  // the flow stores it (its PubAck came after the SUBACK)
  auto puback = broker.expect(Type::puback, 3s);
  CHECK_MESSAGE(puback.has_value(),
                "stored, but never acknowledged: the broker sends it again at the next "
                "connection (a duplicate, for QoS 2 too)");
}

TEST_CASE("review: a message over the client's packet limit does not stall the subscription") {
  // A persistent session: the broker sends the large message again at every reconnection, first.
  Mosquitto broker;
  TempDir data;
  ThreadSafeSink sink;
  Running r(config(broker, 1), sink, data.path());
  await_link(r);
  const std::string file = broker.dir() + "/big.json";
  {
    FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f != nullptr);
    const std::string big = "\"" + std::string(1200 * 1024, 'x') + "\"";
    std::fwrite(big.data(), 1, big.size(), f);
    std::fclose(f);
  }
  sh("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) + " -q 1 -t t/big -f " + file);
  publish(broker, "t/a", {R"({"n":1})"}, 1);
  // The large one may go to error or be refused; the next one must arrive.
  CHECK(wait_until([&] { return pushed(sink) >= 1; }, 10s));
}

TEST_CASE("linger: messages arriving together are stored as one batch, and none is left waiting") {
  // A sink that notes how many records each flush() (one batch for the engine) closed.
  struct BatchSink : ThreadSafeSink {
    std::vector<std::size_t> flushed;
    std::size_t at_last_flush = 0;
    void flush() override {
      std::lock_guard l(mu);
      if (pushed.size() > at_last_flush) flushed.push_back(pushed.size() - at_last_flush);
      at_last_flush = pushed.size();
    }
  };
  Mosquitto broker;
  TempDir data;
  // A linger of a second: 20 messages published together are stored as one batch (or two: the
  // first may be taken alone). (That a full window of unacknowledged messages ends the wait early
  // is a matter of latency, which bench/nodered_bench shows, not this test.)
  const auto cfg = config(broker, 1, R"(, "max_inflight": 20, "linger": "1s")");
  BatchSink sink;
  Running r(cfg, sink, data.path());
  await_link(r);
  publish(broker, "t/a", numbered(0, 20), 1);
  REQUIRE(wait_until([&] { return sink.locked([&] { return sink.at_last_flush; }) == 20; }, 10s));
  sink.locked([&] {
    std::string sizes;
    for (auto n : sink.flushed) sizes += std::to_string(n) + " ";
    INFO("records per batch: " << sizes);
    CHECK(sink.flushed.size() <= 2);  // the first message may come alone, before the others
    return 0;
  });
  CHECK(wait_until([&] { return metric(*r.input, "messages_acked") == 20; }, 10s));
  // The next ones are taken as well (nothing left waiting for the linger).
  publish(broker, "t/a", numbered(20, 25), 1);
  CHECK(wait_until([&] { return pushed(sink) == 25; }, 10s));
}

TEST_CASE("review: an input stopped leaves no thread behind") {
  Mosquitto broker;
  TempDir data;
  const int before = review_fake::thread_count();
  for (int i = 0; i < 3; ++i) {
    ThreadSafeSink sink;
    Running r(config(broker, 1), sink, data.path());
    await_link(r);
  }
  CHECK_MESSAGE(wait_until([&] { return review_fake::thread_count() <= before; }, 3s),
                "threads before: " << before << ", after: " << review_fake::thread_count());
}

TEST_CASE("review: a retained message is stored once, not again when the persistent session resumes") {
  // MQTT 3.1.1 §3.8.4: a SUBSCRIBE identical to an existing subscription makes the broker send
  // the matching retained messages again. The input subscribes after every CONNACK, also when the
  // session (and its subscription) was kept.
  Mosquitto broker;
  TempDir data;
  {
    ThreadSafeSink sink;
    Running a(config(broker, 1), sink, data.path());
    await_link(a);
    publish(broker, "t/state", {R"({"on":true})"}, 1, "-r");
    REQUIRE(wait_until([&] { return pushed(sink) == 1; }, 10s));
    std::this_thread::sleep_for(300ms);  // its PUBACK reaches the broker
  }
  ThreadSafeSink sink;
  Running b(config(broker, 1), sink, data.path());
  await_link(b);
  std::this_thread::sleep_for(1s);
  CHECK_MESSAGE(pushed(sink) == 0,
                "the retained message, stored and acknowledged by the run before, was stored again");
}

TEST_CASE(
    "TLS with a client certificate and a password, the broker restarted mid-stream: mqtt_output to "
    "mqtt_input loses nothing") {
  MosquittoOptions o;
  o.tls = true;
  o.require_client_cert = true;
  o.username = "edge";
  o.password = "s3cret";
  o.autosave_interval = 600;  // the restart is graceful: the broker saves then
  Mosquitto broker(o);
  TempDir data;
  const std::string tls = R"(, "username": "edge", "password": "s3cret", "tls": {"ca": ")" +
                          broker.ca_file() + R"(", "cert": ")" + broker.client_cert_file() +
                          R"(", "key": ")" + broker.client_key_file() + R"("})";
  ThreadSafeSink sink;
  Running in(config(broker, 2, tls), sink, data.path());
  await_link(in);

  // Without the client certificate the broker refuses the TLS handshake: never connected.
  ThreadSafeSink refused_sink;
  Running refused(R"({"url": ")" + broker.url() + R"(", "topics": ["t/#"], "client_id": "weir-test-nocert",
      "username": "edge", "password": "s3cret", "tls": {"ca": ")" +
                      broker.ca_file() + R"("}})",
                  refused_sink, data.path());

  auto p = parse_config("mqtt_output", R"({"url": ")" + broker.url() +
                                           R"(", "client_id": "weir-test-out", "topic": "t/tls", "qos": 2)" +
                                           tls + "}");
  auto ctx = test_context("out");
  ctx.data_dir = data.path();
  auto out = create<sdk::Output>(p, ctx);
  auto st = out->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 10s));
  auto batch = [](int from, int to) {
    std::vector<sdk::Record> records;
    for (int i = from; i < to; ++i)
      records.push_back(rec("{\"n\":" + std::to_string(i) + "}", "r" + std::to_string(i)));
    return records;
  };
  sdk::Rejects rejects;
  auto first = batch(0, 200);
  st = out->write_at({"up", 1}, first, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  // The first half delivered before the restart: what mosquitto 2.0.11 does with QoS 2 messages
  // in flight at its own restart (it loses some, also without weir: mqtt_flow's tap measures
  // it) is not this test's subject; both links coming back over TLS with the password is.
  REQUIRE_MESSAGE(wait_until([&] { return pushed(sink) >= 200; }, 30s), pushed(sink) << " records");
  broker.restart();
  // The batch after the restart is written once both links are back (a write that finds the link
  // down fails and comes again, as the engine would deliver it again).
  auto second = batch(200, 400);
  REQUIRE(wait_until(
      [&] {
        sdk::Rejects r;
        return out->write_at({"up", 2}, second, r).is_ok();
      },
      60s, 200ms));
  CHECK(rejects.items.empty());
  REQUIRE_MESSAGE(wait_until([&] { return pushed(sink) >= 400; }, 60s), pushed(sink)
                                                                            << " records; broker log:\n"
                                                                            << broker.log());
  std::set<std::int64_t> seen;
  sink.locked([&] {
    for (const auto& r : sink.pushed) seen.insert(r.value.at("n").as_int64());
    return 0;
  });
  CHECK(seen.size() == 400);
  CHECK(metric(*refused.input, "connects") == 0);
  CHECK(refused_sink.locked([&] { return refused_sink.pushed.size(); }) == 0);
  refused.stop();
  out->stop();
}
