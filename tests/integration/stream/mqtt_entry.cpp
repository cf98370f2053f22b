// Stream suite entries: mqtt_input → mqtt_output on one real mosquitto, at QoS 2 (exactly once
// into the flow and to the broker) and QoS 1 (at least once: duplicates counted and printed),
// as components/mqtt_input/README.md and components/mqtt_output/README.md state. Records are
// published and counted by the independent Paho clients (mqtt_clients.py) straight at the
// broker; the engine reaches the broker through two TcpProxy links, one per component, so that
// disrupt() cuts both and away() takes the output's link down.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>

#include "../mqtt/paho_clients.hpp"
#include "stream_suite.hpp"

namespace weir::testing::stream {

using namespace std::chrono_literals;

namespace {

MosquittoOptions broker_options() {
  MosquittoOptions mo;
  mo.max_inflight = 100;
  mo.autosave_interval = 600;  // never restarted here: no need to save often
  return mo;
}

class MqttStream : public OneEngine {
 public:
  explicit MqttStream(int qos)
      : OneEngine("stream"),
        qos_(qos),
        broker_(broker_options()),
        in_link_("127.0.0.1", static_cast<std::uint16_t>(broker_.port())),
        out_link_("127.0.0.1", static_cast<std::uint16_t>(broker_.port())) {
    const auto q = std::to_string(qos);
    rig_.write_flow("stream.json", R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"},
      "components": [
        {"id": "in", "type": "mqtt_input", "config": {"url": "mqtt://127.0.0.1:)" +
                                       std::to_string(in_link_.port()) + R"(", "topics": ["in/#"], "qos": )" +
                                       q + R"(, "client_id": "suite-in"}},
        {"id": "out", "type": "mqtt_output", "inputs": ["in"], "config": {"url": "mqtt://127.0.0.1:)" +
                                       std::to_string(out_link_.port()) +
                                       R"(", "topic": "out/data", "qos": )" + q +
                                       R"(, "client_id": "suite-out"}}]})");
    counter_ = subscriber(broker_, "out/#", "suite-count", qos, out_file(), rig_.dir());
  }

  // start() waits for the flow to run: the input's session must exist before the first message.
  void produce(std::uint64_t from, std::uint64_t to, std::size_t pad) override {
    publish(from, to, pad, 100);
  }
  void produce_sequential(std::uint64_t from, std::uint64_t to) override { publish(from, to, 0, 1); }
  std::vector<std::int64_t> consumed() override { return read_numbers(out_file()); }
  void disrupt() override {
    in_link_.cut();
    out_link_.cut();
  }
  void away(bool gone) override { out_link_.set_down(gone); }
  std::string logs() override { return rig_.engine_log() + "\n---- broker ----\n" + broker_.log(); }

 private:
  std::string out_file() const { return rig_.dir() + "/out.ndjson"; }

  // One Paho publisher for [from, to), at most `inflight` unconfirmed; returns once the broker
  // confirmed every message.
  void publish(std::uint64_t from, std::uint64_t to, std::size_t pad, int inflight) {
    const auto id = "suite-pub-" + std::to_string(publishers_++);
    const auto done = rig_.dir() + "/" + id + ".done";
    ChildProcess p({python(),
                    clients_script(),
                    "pub",
                    "--port",
                    std::to_string(broker_.port()),
                    "--topic",
                    "in/data",
                    "--start",
                    std::to_string(from),
                    "--count",
                    std::to_string(to - from),
                    "--qos",
                    std::to_string(qos_),
                    "--pad",
                    std::to_string(pad),
                    "--inflight",
                    std::to_string(inflight),
                    "--id",
                    id,
                    "--done",
                    done},
                   rig_.dir() + "/" + id + ".log");
    REQUIRE_MESSAGE(wait_until([&] { return std::filesystem::exists(done); }, 180s, 20ms),
                    "publisher " << id << " did not finish: " << p.log());
  }

  int qos_;
  Mosquitto broker_;
  TcpProxy in_link_, out_link_;
  std::unique_ptr<ChildProcess> counter_;
  std::atomic<int> publishers_{0};
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t2;
  t2.name = "mqtt_qos2";
  t2.guarantee = Guarantee::exactly_once;
  t2.disruption = "both broker links cut (TcpProxy)";
  t2.away = "mqtt_output's broker link down (TcpProxy)";
  Traits t1 = t2;
  t1.name = "mqtt_qos1";
  t1.guarantee = Guarantee::at_least_once;
  return {{t2, [] { return std::make_unique<MqttStream>(2); }},
          {t1, [] { return std::make_unique<MqttStream>(1); }}};
}

}  // namespace weir::testing::stream
