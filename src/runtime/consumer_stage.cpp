#include "runtime/consumer_stage.hpp"

#include <spdlog/spdlog.h>

#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "runtime/forward_round.hpp"
#include "runtime/stage_round.hpp"

namespace weir::runtime {

using namespace std::chrono_literals;

namespace {
// Batches per fetch: each is up to settings.batch_records records.
constexpr int fetch_batches = 8;
}  // namespace

ConsumerStage::ConsumerStage(FlowShared& shared, const graph::Stage& stage)
    : shared_(shared),
      stage_(stage),
      stop_(shared),
      prefix_(shared.prefix(stage.members.front().component)) {}

ConsumerStage::~ConsumerStage() {
  join();
}

void ConsumerStage::start() {
  for (std::size_t u = 0; u < stage_.upstreams.size(); ++u)
    threads_.emplace_back([this, u] {
      name_thread((stage_.kind == graph::StageKind::output ? "out:" : "st:") + stage_.id);
      run(u);
    });
}

void ConsumerStage::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void ConsumerStage::run(std::size_t upstream) {
  const auto& up = stage_.upstreams[upstream];
  std::unique_ptr<bus::AsyncPublisher> pub;
  bus::JetStream js;
  bus::PullConsumer consumer;
  bool warned = false;
  // Binding needs the server; until it answers, retry quietly (one log line per outage).
  while (!stop_.stopping()) {
    if (!pub) {
      auto p =
          bus::AsyncPublisher::create(*shared_.conn, {.max_pending = 1024, .track_stream = shared_.stream});
      if (p) pub = std::move(p.value());
    }
    if (!js) {
      auto j = shared_.conn->jetstream();
      if (j) js = std::move(j.value());
    }
    if (pub && js) {
      auto c = bus::PullConsumer::bind(js.raw(), shared_.stream, up.durable);
      if (c) {
        consumer = std::move(c.value());
        break;
      }
      if (!warned) spdlog::warn("{} cannot bind consumer {}: {}", prefix_, up.durable, c.status().text());
    }
    warned = true;
    idle(stop_, 1s);
  }
  if (stop_.stopping()) return;
  if (warned) spdlog::info("{} consumer {} bound", prefix_, up.durable);
  // Acks that wait for the store to be synced go out before the consumer goes.
  struct DrainAcks {
    FlowShared& shared;
    ~DrainAcks() { shared.drain_acks(); }
  } drain_acks{shared_};

  const auto& ack_wait = shared_.flow.settings.ack_wait;
  auto reconnects = shared_.conn->reconnects();
  bus::InOrder in_order;
  if (!await_redeliveries(stop_, js.raw(), shared_.stream, up.durable, ack_wait, prefix_, in_order)) return;
  // Where what this thread reads comes from (positions.hpp): the consumer, and the stream's
  // creation time, since sequences start over in a stream made anew.
  std::string source;
  bool info_warned = false;
  while (!stop_.stopping()) {
    auto info = bus::stream_info(js.raw(), shared_.stream);
    if (info) {
      source = consumer_source(up.durable, info->created_ns);
      break;
    }
    if (!info_warned) spdlog::warn("{} stream info: {}", prefix_, info.status().text());
    info_warned = true;
    idle(stop_, 1s);
  }
  if (stop_.stopping()) return;
  const auto root = stage_.members.front().component;
  if (dynamic_cast<sdk::BatchOutput*>(shared_.components[root].get())) {
    run_forwarding(shared_, stop_, stage_, consumer, js, *pub, serial_, std::move(source), in_order);
    return;
  }
  PositionLog log(shared_.flow.name, shared_.stream, up.durable, StageRound::published_subjects(stage_));
  log.set_key_filter(source);
  shared_.positions.add(&log);
  struct Unregister {
    FlowShared& shared;
    PositionLog& log;
    bus::AsyncPublisher& pub;
    ~Unregister() {
      (void)log.checkpoint(pub);
      shared.positions.remove(&log);
    }
  } unregister{shared_, log, *pub};
  bool recover_warned = false;
  while (!stop_.stopping()) {
    auto st = log.recover(js.raw());
    if (st.ok()) break;
    if (!recover_warned) spdlog::warn("{} cannot read its stored positions yet: {}", prefix_, st.text());
    recover_warned = true;
    idle(stop_, 1s);
  }
  StageRound round(shared_, stop_, stage_, *pub, &serial_, &log, source);
  std::vector<bus::Msg> msgs, ready;
  bool fetch_failing = false;
  while (!stop_.stopping()) {
    // A broker restart leaves what it had delivered unacked: it comes back after ack_wait.
    if (const auto now = shared_.conn->reconnects(); now != reconnects) {
      reconnects = now;
      if (!await_redeliveries(stop_, js.raw(), shared_.stream, up.durable, ack_wait, prefix_, in_order))
        break;
    }
    msgs.clear();
    auto st = consumer.fetch(in_order.want(fetch_batches), 500ms, msgs);
    if (!st.ok() && !st.is_timeout()) {
      if (!fetch_failing) spdlog::warn("{} fetch from {} failed: {}", prefix_, up.durable, st.text());
      fetch_failing = true;
      idle(stop_, 250ms);
      continue;
    }
    if (fetch_failing && !msgs.empty()) {
      spdlog::info("{} fetching from {} again", prefix_, up.durable);
      fetch_failing = false;
    }
    // In stream order, the redeliveries after a crash all together: positions.hpp.
    if (!in_order.add(msgs, ready)) continue;
    if (shared_.await_on_disk(ready, stop_)) round.handle(ready);
    ready.clear();
  }
}

}  // namespace weir::runtime
