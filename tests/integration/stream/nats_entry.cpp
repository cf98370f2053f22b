// Stream suite entry: nats_input (SRC) → nats_output (OUT). nats_output is exactly once into a
// stream while the stream's duplicate window covers a redelivery (components/nats_output/README.md;
// OUT's window is 5 minutes); the consumer reads every message OUT stored.
#include <doctest/doctest.h>

#include <cstdlib>
#include <mutex>

#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "stream_suite.hpp"

namespace weir::testing::stream {

using namespace std::chrono_literals;

namespace {

class NatsStream : public NatsSourced {
 public:
  NatsStream()
      : NatsSourced("stream", [](EngineRig&) {
          return R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"}, "components": [)" +
                 source_component("2s") + R"(,
            {"id": "sink", "type": "nats_output", "inputs": ["src"], "config": {"subject": "out.data"}}]})";
        }) {
    bus::ConnectOptions o;
    o.url = rig_.server().url();
    o.connect_timeout = 10s;
    auto c = bus::Connection::connect(o);
    REQUIRE_MESSAGE(c.ok(), c.status().text());
    conn_ = std::move(c.value());
    auto js = conn_->jetstream();
    REQUIRE(js.ok());
    bus::ConsumerSpec spec;
    spec.durable = "stream_suite_reader";
    spec.filter_subject = "out.>";
    spec.max_ack_pending = 100000;
    auto made = bus::ensure_consumer(js->raw(), "OUT", spec);
    REQUIRE_MESSAGE(made.ok(), made.status().text());
    auto sub = bus::PullConsumer::bind(js->raw(), "OUT", spec.durable);
    REQUIRE_MESSAGE(sub.ok(), sub.status().text());
    sub_ = std::make_unique<bus::PullConsumer>(std::move(sub.value()));
  }

  // Every message OUT stored so far (the reader's durable remembers where it was).
  std::vector<std::int64_t> consumed() override {
    std::lock_guard lock(mutex_);
    std::vector<bus::Msg> msgs;
    for (;;) {
      msgs.clear();
      auto st = sub_->fetch(1000, 200ms, msgs);
      if (!st.ok() && !st.is_timeout()) FAIL_CHECK(st.text());
      if (msgs.empty()) break;
      for (auto& m : msgs) {
        const auto data = m.view();
        const auto at = data.find("\"n\":");
        if (at == std::string_view::npos) {
          FAIL_CHECK("not a record: " << std::string(data.substr(0, 200)));
          continue;
        }
        got_.push_back(std::strtoll(std::string(data.substr(at + 4, 24)).c_str(), nullptr, 10));
        (void)m.ack();
      }
    }
    return got_;
  }

 private:
  std::unique_ptr<bus::Connection> conn_;
  std::unique_ptr<bus::PullConsumer> sub_;
  std::mutex mutex_;
  std::vector<std::int64_t> got_;
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "nats";
  t.guarantee = Guarantee::exactly_once;
  t.disruption = "engine's NATS link cut (TcpProxy)";
  t.away = "engine's NATS link stalled (TcpProxy)";
  return {{t, [] { return std::make_unique<NatsStream>(); }}};
}

}  // namespace weir::testing::stream
