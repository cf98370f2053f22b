// Stream suite entry: the site bridge, two engines (bridge/two_sites.hpp): site A runs
// nats_input (SRC) → websocket_output, the hub websocket_input → file_output, with a TcpProxy on
// the link. Exactly once end to end (components/websocket_output/README.md: batches resent under
// the same ids after a reconnect, dropped by the hub's duplicate window). Kills alternate: site A
// (websocket_output) first, then the hub (websocket_input). The memory watched is site A's, the
// side that holds records while the hub is away.
#include "../bridge/two_sites.hpp"
#include "stream_suite.hpp"

namespace weir::testing::stream {

namespace {

LinkOptions link_options() {
  LinkOptions o;
  o.hub_settings = R"({"ack_wait": "2s"})";
  o.hub_sink =
      R"({"id": "sink", "type": "file_output", "inputs": ["from_sites"], "config": {"path": "OUT_FILE"}})";
  return o;
}

class WebSocketStream : public Stream {
 public:
  WebSocketStream() : sites_(with_sink(link_options())) {}

  void start() override {
    sites_.start();
    wait_flow_running(sites_.hub(), "hub");
    wait_flow_running(sites_.site_a(), "uplink");
  }
  int stop() override {
    const int a = sites_.site_a().stop_engine();
    const int hub = sites_.hub().stop_engine();
    return a != 0 ? a : hub;
  }
  void kill_and_restart(int k) override {
    auto& rig = k % 2 == 1 ? sites_.site_a() : sites_.hub();
    rig.kill_engine();
    rig.start_engine();
  }
  void produce(std::uint64_t from, std::uint64_t to, std::size_t pad) override {
    sites_.site_a().publish_source(from, to, pad);
  }
  std::vector<std::int64_t> consumed() override { return read_numbers(out_file_); }
  void disrupt() override { sites_.proxy().cut(); }
  void away(bool gone) override { sites_.proxy().set_down(gone); }
  pid_t memory_pid() override { return sites_.site_a().engine_pid(); }
  std::string logs() override { return sites_.logs(); }

 private:
  // The hub's file is in the hub's dir, known once the sites exist: the sink's path is set here.
  LinkOptions with_sink(LinkOptions o) {
    hub_dir_ = std::make_unique<TempDir>("weir-stream-hub");
    out_file_ = hub_dir_->file("out.ndjson");
    o.hub_sink.replace(o.hub_sink.find("OUT_FILE"), 8, out_file_);
    return o;
  }

  std::unique_ptr<TempDir> hub_dir_;
  std::string out_file_;
  TwoSites sites_;
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "websocket";
  t.guarantee = Guarantee::exactly_once;
  t.ack_wait = std::chrono::seconds(5);  // site A's nats_input (two_sites.cpp)
  t.disruption = "bridge link cut (TcpProxy)";
  t.away = "bridge link down (TcpProxy): the hub unreachable";
  return {{t, [] { return std::make_unique<WebSocketStream>(); }}};
}

}  // namespace weir::testing::stream
