// StateKeeper against a real nats-server: snapshots stored in the flow's positions stream and
// read back, large states in parts, a snapshot cut short by a crash, held messages acked only
// after the snapshot that covers them.
#include <doctest/doctest.h>

#include "graph/plan.hpp"
#include "runtime/state_keeper.hpp"
#include "support/nats_fixture.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// A state that is just bytes.
class Bytes final : public sdk::StatefulProcessor {
 public:
  std::string state;
  bool refuse = false;
  void process(sdk::Record&&, sdk::Emitter&) override {}
  void save(std::string& out) const override { out = state; }
  sdk::Status load(std::string_view saved) override {
    if (refuse) return sdk::Status::error("does not fit");
    state = saved;
    return sdk::Status::ok();
  }
  sdk::StateSize state_size() const override { return {1, state.size()}; }
};

struct Site : BusFixture {
  runtime::FlowShared shared;
  std::unique_ptr<bus::AsyncPublisher> pub;
  Site() {
    shared.flow.name = "sk";
    shared.flow.components.push_back({});
    shared.flow.components[0].id = "win";
    shared.flow.components[0].type = "window";
    shared.conn = conn.get();
    shared.counters = std::make_unique<runtime::ComponentCounters[]>(1);
    bus::StreamSpec positions;
    positions.name = graph::positions_stream("sk");
    positions.subjects = {graph::positions_subjects("sk")};
    positions.retention = bus::Retention::limits;
    positions.max_msgs_per_subject = 1;
    positions.allow_direct = true;
    REQUIRE(bus::ensure_stream(js.raw(), positions).ok());
    pub = std::move(bus::AsyncPublisher::create(*conn).value());
  }
};

}  // namespace

TEST_CASE("manifests round-trip and damaged ones are refused") {
  runtime::SnapshotManifest m{.number = 7,
                              .slot = 1,
                              .parts = 3,
                              .bytes = 1200000,
                              .type = "window",
                              .applied = {{"c__src__out:123", 99}}};
  runtime::SnapshotManifest back;
  REQUIRE(runtime::decode_manifest(runtime::encode_manifest(m), back));
  CHECK(back.number == 7);
  CHECK(back.slot == 1);
  CHECK(back.parts == 3);
  CHECK(back.bytes == 1200000);
  CHECK(back.applied.at("c__src__out:123") == 99);
  CHECK_FALSE(runtime::decode_manifest("{\"number\":1}", back));
  CHECK_FALSE(runtime::decode_manifest("not json", back));
  CHECK_FALSE(
      runtime::decode_manifest(R"({"number":1,"slot":2,"parts":1,"bytes":1,"type":"x","applied":{}})", back));
}

TEST_CASE("a state saved and restored, in parts when large; applied positions come back with it") {
  Site site;
  Bytes a;
  runtime::StateKeeper keeper(site.shared, 0, a);
  REQUIRE(keeper.restore(site.js.raw()).ok());  // nothing stored: starts empty
  CHECK(a.state.empty());
  // 1.3 MB: three parts.
  a.state.assign(1300000, 'x');
  a.state[0] = 'a';
  a.state.back() = 'z';
  keeper.mark("src", 41);
  REQUIRE(keeper.snapshot(*site.pub).ok());
  CHECK(keeper.snapshots() == 1);
  a.state = "second";
  keeper.mark("src", 42);
  REQUIRE(keeper.snapshot(*site.pub).ok());
  CHECK(site.shared.counters[0].snapshots == 2);
  CHECK(site.shared.counters[0].snapshot_bytes == 6);

  Bytes b;
  runtime::StateKeeper again(site.shared, 0, b);
  REQUIRE(again.restore(site.js.raw()).ok());
  CHECK(b.state == "second");
  CHECK(again.applied("src", 42));
  CHECK(again.applied("src", 1));
  CHECK_FALSE(again.applied("src", 43));
  CHECK_FALSE(again.applied("other", 1));

  // The large one, from its slot, is whole when it is the last.
  a.state.assign(1300000, 'y');
  keeper.mark("src", 50);
  REQUIRE(keeper.snapshot(*site.pub).ok());
  Bytes c;
  runtime::StateKeeper third(site.shared, 0, c);
  REQUIRE(third.restore(site.js.raw()).ok());
  CHECK(c.state == a.state);
}

TEST_CASE("a snapshot cut short (parts written, no manifest) leaves the previous one whole") {
  Site site;
  Bytes a;
  runtime::StateKeeper keeper(site.shared, 0, a);
  a.state = "kept";
  keeper.mark("src", 5);
  REQUIRE(keeper.snapshot(*site.pub).ok());
  // What a crash between the parts and the manifest of snapshot 2 leaves: its part in the other
  // slot ("b": snapshot 1 went to "a").
  const auto part = graph::positions_subject("sk", "_state.win") + ".b.0";
  const bus::Header h{"Weir-Snapshot", "2"};
  REQUIRE(site.pub->publish_sync(part, "half", {}, std::span(&h, 1)).ok());
  Bytes b;
  runtime::StateKeeper again(site.shared, 0, b);
  REQUIRE(again.restore(site.js.raw()).ok());
  CHECK(b.state == "kept");
}

TEST_CASE("a state that does not fit the configuration: empty state, positions still known") {
  Site site;
  Bytes a;
  runtime::StateKeeper keeper(site.shared, 0, a);
  a.state = "old";
  keeper.mark("src", 9);
  REQUIRE(keeper.snapshot(*site.pub).ok());
  Bytes b;
  b.refuse = true;
  runtime::StateKeeper again(site.shared, 0, b);
  REQUIRE(again.restore(site.js.raw()).ok());
  CHECK(b.state.empty());
  CHECK(again.applied("src", 9));
  // Another type's state is not loaded either.
  site.shared.flow.components[0].type = "dedupe";
  Bytes c;
  runtime::StateKeeper other(site.shared, 0, c);
  REQUIRE(other.restore(site.js.raw()).ok());
  CHECK(c.state.empty());
}

TEST_CASE("held messages are acked only by the snapshot that covers them") {
  Site site;
  site.make_stream("S", "s.>");
  site.make_consumer("S", "d", "s.>", 30s);
  REQUIRE(site.pub->publish_sync("s.x", "one").ok());
  auto consumer = bus::PullConsumer::bind(site.js.raw(), "S", "d");
  REQUIRE(consumer.ok());
  std::vector<bus::Msg> msgs;
  REQUIRE(consumer->fetch(1, 2s, msgs).ok());
  REQUIRE(msgs.size() == 1);
  Bytes a;
  runtime::StateKeeper keeper(site.shared, 0, a);
  keeper.mark("S", 1);
  keeper.hold(std::move(msgs));
  CHECK(keeper.held() == 1);
  auto pending = [&] {
    auto info = bus::consumer_info(site.js.raw(), "S", "d");
    REQUIRE(info.ok());
    return info->num_ack_pending;
  };
  CHECK(pending() == 1);
  REQUIRE(keeper.snapshot(*site.pub).ok());
  CHECK(keeper.held() == 0);
  site.shared.drain_acks();
  bool acked = false;
  for (int i = 0; i < 50 && !acked; ++i) {
    acked = pending() == 0;
    if (!acked) std::this_thread::sleep_for(100ms);
  }
  CHECK(acked);
}
