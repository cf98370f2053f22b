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

double metric(const sdk::Component& c, const std::string& name) {
  std::vector<sdk::Metric> m;
  c.metrics(m);
  for (const auto& x : m)
    if (x.name == name) return x.value;
  return -1;
}

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
  CHECK(p.reserved() == std::set<std::uint16_t>{12, 13});
  CHECK(p.slots()[0].state == S::none);
}
