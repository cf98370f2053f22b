// mqtt_output against a real mosquitto broker, counted by an independent subscriber
// (mosquitto_sub, every message it gets is a line): what a batch publishes, when it counts as
// written, what a broker that is away does to it, and what a batch written again publishes.
#include <doctest/doctest.h>

#include <fstream>
#include <thread>

#include "mqtt_output/mqtt_output.hpp"
#include "support/child_process.hpp"
#include "support/component_testing.hpp"
#include "support/mosquitto_harness.hpp"
#include "support/nats_harness.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// mosquitto_sub on `filter` with QoS 2 and a persistent session, one line per message
// ("<topic> <payload>"); it stays subscribed through broker restarts.
struct Subscriber {
  std::string file;
  std::unique_ptr<ChildProcess> proc;
  Subscriber(const Mosquitto& b, const std::string& filter, const std::string& id = "counter") {
    file = b.dir() + "/" + id + ".txt";
    const std::string port = std::to_string(b.port());
    proc = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/bin/sh", "-c",
                                 "exec stdbuf -oL mosquitto_sub -h 127.0.0.1 -p " + port + " -q 2 -c -i " +
                                     id + " -v -t '" + filter + "' -t probe/" + id + " > " + file},
        b.dir() + "/" + id + ".log");
    // Subscribed once a probe comes back (probe lines are not counted).
    const std::string probe = "mosquitto_pub -h 127.0.0.1 -p " + port + " -q 1 -t probe/" + id + " -m x";
    REQUIRE(wait_until(
        [&] {
          if (std::system(probe.c_str()) != 0) return false;
          std::ifstream in(file);
          std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
          return all.find("probe/" + id + " x") != std::string::npos;
        },
        10s, 200ms));
  }
  std::vector<std::string> lines() const {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
      if (l.rfind("probe/", 0) != 0) out.push_back(l);
    return out;
  }
};

std::vector<sdk::Record> numbered(int from, int to) {
  std::vector<sdk::Record> out;
  for (int i = from; i < to; ++i)
    out.push_back(rec(R"({"n":)" + std::to_string(i) + R"(,"line":"l)" + std::to_string(i % 2) + R"("})",
                      "r" + std::to_string(i)));
  return out;
}

std::unique_ptr<sdk::Output> make(const std::string& config, const std::string& data_dir) {
  auto p = parse_config("mqtt_output", config);
  auto ctx = test_context("out");
  ctx.data_dir = data_dir;
  auto out = create<sdk::Output>(p, ctx);
  auto st = out->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  return out;
}

std::string config(const Mosquitto& b, int qos, const std::string& extra = R"(, "topic": "o/all")") {
  return R"({"url": ")" + b.url() + R"(", "client_id": "weir-test-out", "qos": )" + std::to_string(qos) +
         extra + "}";
}

}  // namespace

TEST_CASE("a batch counts as written once the broker confirmed every record (QoS 0, 1, 2)") {
  for (int qos : {0, 1, 2}) {
    CAPTURE(qos);
    Mosquitto broker;  // mosquitto's default max_inflight_messages (20), as a packaged broker has
    TempDir data;
    Subscriber sub(broker, "o/#");
    auto out = make(config(broker, qos), data.path());
    REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 10s));
    auto records = numbered(0, 500);
    sdk::Rejects rejects;
    auto st = out->write_at({"up", 1}, records, rejects);
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    CHECK(rejects.items.empty());
    REQUIRE_MESSAGE(wait_until([&] { return sub.lines().size() >= 500; }, 10s),
                    sub.lines().size()
                        << " lines; broker log:\n"
                        << broker.log().substr(broker.log().size() > 5000 ? broker.log().size() - 5000 : 0));
    std::this_thread::sleep_for(300ms);
    const auto lines = sub.lines();
    REQUIRE(lines.size() == 500);
    for (int i = 0; i < 500; ++i)
      CHECK(lines[static_cast<std::size_t>(i)] ==
            "o/all {\"n\":" + std::to_string(i) + ",\"line\":\"l" + std::to_string(i % 2) + "\"}");
  }
}

TEST_CASE("topic_expr: a topic per record; a record without a usable topic goes to error") {
  Mosquitto broker;
  TempDir data;
  Subscriber sub(broker, "plant/#");
  auto out = make(config(broker, 1, R"(, "topic_expr": "\"plant/\" + line")"), data.path());
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 10s));
  std::vector<sdk::Record> records = numbered(0, 4);
  records.push_back(rec(R"({"line": 5})", "bad-type"));
  records.push_back(rec(R"({"line": "a/+"})", "bad-topic"));
  sdk::Rejects rejects;
  auto st = out->write_at({"up", 1}, records, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  REQUIRE(rejects.items.size() == 2);
  CHECK(rejects.items[0].first == 4);
  CHECK(rejects.items[1].first == 5);
  CHECK(rejects.items[1].second.find("topic \"plant/a/+\"") != std::string::npos);
  REQUIRE(wait_until([&] { return sub.lines().size() >= 4; }, 10s));
  CHECK(sub.lines()[0] == R"(plant/l0 {"n":0,"line":"l0"})");
  CHECK(sub.lines()[1] == R"(plant/l1 {"n":1,"line":"l1"})");
}

TEST_CASE(
    "broker away: the write fails after ack_timeout; written again once it is back, delivered once (QoS 2)") {
  Mosquitto broker;
  TempDir data;
  Subscriber sub(broker, "o/#");
  auto out = make(config(broker, 2, R"(, "topic": "o/all", "ack_timeout": "2s")"), data.path());
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 10s));
  broker.stop();
  auto records = numbered(0, 200);
  sdk::Rejects rejects;
  auto st = out->write_at({"up", 7}, records, rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("not confirmed by the broker within 2 s") != std::string::npos);
  broker.start();
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 20s));
  st = out->write_at({"up", 7}, records, rejects);  // the engine delivers the batch again
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  REQUIRE(wait_until([&] { return sub.lines().size() >= 200; }, 20s));
  std::this_thread::sleep_for(500ms);
  CHECK(sub.lines().size() == 200);
}

TEST_CASE(
    "a batch written again after it was confirmed publishes nothing twice (progress kept in the data dir)") {
  Mosquitto broker;
  TempDir data;
  Subscriber sub(broker, "o/#");
  auto records = numbered(0, 100);
  {
    auto out = make(config(broker, 1), data.path());
    REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 10s));
    sdk::Rejects rejects;
    REQUIRE(out->write_at({"up", 3}, records, rejects).is_ok());
  }
  // A crash before the engine acked the batch upstream: the next run gets the same batch.
  auto out = make(config(broker, 1), data.path());
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 10s));
  sdk::Rejects rejects;
  REQUIRE(out->write_at({"up", 3}, records, rejects).is_ok());
  std::this_thread::sleep_for(1s);
  CHECK(sub.lines().size() == 100);
  // The next batch is new: published.
  REQUIRE(out->write_at({"up", 4}, numbered(100, 110), rejects).is_ok());
  REQUIRE(wait_until([&] { return sub.lines().size() == 110; }, 10s));
}

TEST_CASE("Progress: a batch's state comes back from the file; another batch's ids stay reserved") {
  TempDir dir;
  const auto path = dir.file("p/out.progress");
  {
    components::mqtt_output::Progress p;
    REQUIRE(p.open(path).empty());
    p.begin("src", 5, 3);
    p.published({{0, 11}, {1, 12}, {2, 13}});
    p.done(0);
    p.released(1);
  }
  components::mqtt_output::Progress p;
  REQUIRE(p.open(path).empty());
  p.begin("src", 5, 3);
  using S = components::mqtt_output::Progress::State;
  REQUIRE(p.slots().size() == 3);
  CHECK(p.slots()[0].state == S::done);
  CHECK(p.slots()[1].state == S::released);
  CHECK(p.slots()[1].id == 12);
  CHECK(p.slots()[2].state == S::published);
  CHECK(p.slots()[2].id == 13);
  p.begin("src", 6, 1);  // another batch: 12 and 13 are still with the broker
  CHECK(p.in_use(12));
  CHECK(p.in_use(13));
  CHECK_FALSE(p.in_use(11));  // confirmed
  CHECK(p.slots()[0].state == S::none);
}

// ---- Review tests: a scripted broker (tests/support/mqtt_fake_broker.hpp) for what mosquitto does not
// show on demand.

#include "support/mqtt_fake_broker.hpp"

namespace review_fake = weir::testing::fake_broker;

namespace weir::testing::fake_broker {
// Answers the client's QoS 2 packets (PUBREC for a PUBLISH, PUBCOMP for a PUBREL) until `done`
// is ready; the payloads of the PUBLISHes it saw.
template <class Future>
std::vector<std::string> serve_qos2(FakeBroker& b, Future& done) {
  std::vector<std::string> payloads;
  while (done.wait_for(0s) != std::future_status::ready) {
    auto p = b.read(200ms);
    if (!p) continue;
    const int t = p->first >> 4;
    if (t == static_cast<int>(Type::publish)) {
      auto pub = parse_publish(p->first, p->second, false);
      payloads.push_back(pub.payload);
      b.send(ack(Type::pubrec, pub.id));
    } else if (t == static_cast<int>(Type::pubrel)) {
      b.send(ack(Type::pubcomp, id_at(p->second)));
    }
  }
  return payloads;
}
}  // namespace weir::testing::fake_broker

TEST_CASE("review: a record the broker refused (MQTT 5) goes to error when its batch is written again") {
  using namespace review_fake;
  FakeBroker broker;
  TempDir data;
  auto out = make(
      R"({"url": ")" + broker.url() +
          R"(", "client_id": "weir-test-out", "version": "5", "qos": 1, "topic": "o/all", "ack_timeout": "1s"})",
      data.path());
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(false, true));
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 5s));
  std::this_thread::sleep_for(200ms);
  auto records = numbered(0, 2);
  sdk::Rejects first_rejects;
  auto first = std::async(std::launch::async, [&] {
    return out->write_at({"up", 1}, records, first_rejects);
  });
  auto p0 = expect_publish(broker, true);
  auto p1 = expect_publish(broker, true);
  REQUIRE(p0);
  REQUIRE(p1);
  broker.send(ack(Type::puback, p0->id, 0x87));  // not authorized: record 0 never goes
  // Record 1's PUBACK does not come in time: the batch fails, and the engine writes it again.
  REQUIRE_FALSE(first.get().is_ok());
  sdk::Rejects rejects;
  auto second = std::async(std::launch::async, [&] { return out->write_at({"up", 1}, records, rejects); });
  auto again = expect_publish(broker, true);
  REQUIRE(again);
  CHECK(again->id == p1->id);
  broker.send(ack(Type::puback, again->id, 0));
  auto st = second.get();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  // The engine drops a failed write's rejects: record 0 was neither delivered nor reported.
  CHECK_MESSAGE(rejects.items.size() == 1, "record 0 (refused by the broker) went nowhere");
}

TEST_CASE(
    "review: QoS 2: a batch of another upstream written in between does not send a confirmed record twice") {
  // An output with two inputs has one engine thread per upstream edge (ConsumerStage::start),
  // taking turns at write_at under one lock; a failed batch is retried after the other's.
  using namespace review_fake;
  FakeBroker broker;
  TempDir data;
  auto out = make(R"({"url": ")" + broker.url() +
                      R"(", "client_id": "weir-test-out", "qos": 2, "topic": "o/all", "ack_timeout": "1s"})",
                  data.path());
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(false));
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 5s));
  std::this_thread::sleep_for(200ms);
  auto a = numbered(0, 2);
  sdk::Rejects r1, r2, r3;
  auto w1 = std::async(std::launch::async, [&] { return out->write_at({"up-a", 1}, a, r1); });
  auto p0 = expect_publish(broker);
  auto p1 = expect_publish(broker);
  REQUIRE(p0);
  REQUIRE(p1);
  broker.send(ack(Type::pubrec, p0->id));
  REQUIRE(broker.expect(Type::pubrel));
  broker.send(ack(Type::pubcomp, p0->id));  // record 0 delivered, exactly once
  REQUIRE_FALSE(w1.get().is_ok());          // record 1 not confirmed in time
  auto b = numbered(10, 11);
  auto w2 = std::async(std::launch::async, [&] { return out->write_at({"up-b", 1}, b, r2); });
  serve_qos2(broker, w2);
  REQUIRE(w2.get().is_ok());
  auto w3 = std::async(std::launch::async, [&] { return out->write_at({"up-a", 1}, a, r3); });
  const auto payloads = serve_qos2(broker, w3);
  REQUIRE(w3.get().is_ok());
  CHECK_MESSAGE(std::find(payloads.begin(), payloads.end(), p0->payload) == payloads.end(),
                "record 0 published again after its PUBCOMP: " << p0->payload);
}

TEST_CASE("review: MQTT 5: the client keeps to the Server Keep Alive of the CONNACK") {
  // MQTT 5.0 §3.2.2.3.14: the client MUST use the Server Keep Alive instead of its own.
  using namespace review_fake;
  FakeBroker broker;
  TempDir data;
  auto out = make(
      R"({"url": ")" + broker.url() +
          R"(", "client_id": "weir-test-out", "version": "5", "qos": 1, "topic": "o/all", "keep_alive": "60s"})",
      data.path());
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(false, true, std::string{0x13, 0x00, 0x02}));  // Server Keep Alive: 2 s
  // The broker closes the link after 1.5 x 2 s of silence: a PINGREQ must come before.
  auto p = broker.read(3s, true);
  CHECK_MESSAGE(p.has_value(), "nothing sent within 1.5 x the Server Keep Alive");
}

TEST_CASE("review: QoS 0: a publisher that sends steadily keeps its link") {
  // Keep-alive: a PINGREQ goes out only when nothing was sent for keep_alive/2, yet the link is
  // declared dead when nothing arrived for 1.5 x keep_alive; QoS 0 publishes get no answer.
  Mosquitto broker;
  TempDir data;
  auto out = make(config(broker, 0, R"(, "topic": "o/all", "keep_alive": "2s")"), data.path());
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 10s));
  for (int i = 0; i < 40; ++i) {  // 8 s: over 1.5 x keep_alive
    sdk::Rejects rejects;
    auto records = numbered(i, i + 1);
    REQUIRE(out->write_at({"up", static_cast<std::uint64_t>(i + 1)}, records, rejects).is_ok());
    std::this_thread::sleep_for(200ms);
  }
  CHECK(metric(*out, "disconnects") == 0);
}

TEST_CASE("review: QoS 2: a PUBREC'd record whose session the broker lost is published again") {
  // mosquitto hands a QoS 2 message on at the PUBREL (it holds it until then): a broker that lost
  // the session (restarted before its autosave, session expired) never delivers it.
  using namespace review_fake;
  FakeBroker broker;
  TempDir data;
  auto out = make(R"({"url": ")" + broker.url() +
                      R"(", "client_id": "weir-test-out", "qos": 2, "topic": "o/all", "ack_timeout": "5s"})",
                  data.path());
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(false));
  REQUIRE(wait_until([&] { return metric(*out, "link_up") == 1; }, 5s));
  std::this_thread::sleep_for(200ms);
  auto records = numbered(0, 1);
  sdk::Rejects rejects;
  auto w = std::async(std::launch::async, [&] { return out->write_at({"up", 1}, records, rejects); });
  auto p = expect_publish(broker);
  REQUIRE(p);
  broker.send(ack(Type::pubrec, p->id));
  REQUIRE(broker.expect(Type::pubrel));
  broker.drop();  // the PUBREL never reached the broker's store; the broker restarts without the session
  REQUIRE(broker.accept());
  REQUIRE(broker.expect(Type::connect));
  broker.send(connack(false));
  auto again = expect_publish(broker, false, 3s);
  REQUIRE_MESSAGE(again.has_value(),
                  "counted as delivered, but the broker that lost the session never had it released");
  broker.send(ack(Type::pubrec, again->id));
  serve_qos2(broker, w);
  CHECK(w.get().is_ok());
}
