#include "runtime/consumer_stage.hpp"

#include <spdlog/spdlog.h>

#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "runtime/forward_round.hpp"
#include "runtime/stage_round.hpp"
#include "runtime/state_keeper.hpp"

namespace weir::runtime {

using namespace std::chrono_literals;

namespace {
// Batches per fetch: each is up to settings.batch_records records.
constexpr int fetch_batches = 8;
}  // namespace

// One upstream consumer as a stage thread reads it.
struct ConsumerStage::Reader {
  explicit Reader(const graph::Upstream& u) : up(u) {}
  const graph::Upstream& up;
  bus::JetStream js;
  bus::PullConsumer consumer;
  bus::InOrder in_order;
  // Where what it reads comes from (positions.hpp): the consumer, and the stream's creation
  // time, since sequences start over in a stream made anew.
  std::string source;
  std::unique_ptr<PositionLog> log;
  std::uint64_t reconnects = 0;
  bool fetch_failing = false;
  std::size_t fetched = 0;  // messages the last fetch returned
};

ConsumerStage::ConsumerStage(FlowShared& shared, const graph::Stage& stage)
    : shared_(shared),
      stage_(stage),
      stop_(shared),
      prefix_(shared.prefix(stage.members.front().component)) {}

ConsumerStage::~ConsumerStage() {
  join();
}

void ConsumerStage::start() {
  auto* root = shared_.components[stage_.members.front().component].get();
  if (auto* proc = dynamic_cast<sdk::StatefulProcessor*>(root)) {
    // One thread for every upstream: a stateful component sees its batches one at a time, in
    // an order a replay repeats per upstream (state_keeper.hpp).
    proc->set_clock(&clock_);
    threads_.emplace_back([this, proc] {
      name_thread("sf:" + stage_.id);
      run_stateful(*proc);
    });
    return;
  }
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

bool ConsumerStage::connect(std::unique_ptr<bus::AsyncPublisher>& pub, Reader& r) {
  bool warned = false;
  // Binding needs the server; until it answers, retry quietly (one log line per outage).
  while (!stop_.stopping()) {
    if (!pub) {
      auto p =
          bus::AsyncPublisher::create(*shared_.conn, {.max_pending = 1024, .track_stream = shared_.stream});
      if (p) pub = std::move(p.value());
    }
    if (!r.js) {
      auto j = shared_.conn->jetstream();
      if (j) r.js = std::move(j.value());
    }
    if (pub && r.js) {
      auto c = bus::PullConsumer::bind(r.js.raw(), shared_.stream, r.up.durable);
      if (c) {
        r.consumer = std::move(c.value());
        break;
      }
      if (!warned) spdlog::warn("{} cannot bind consumer {}: {}", prefix_, r.up.durable, c.status().text());
    }
    warned = true;
    idle(stop_, 1s);
  }
  if (stop_.stopping()) return false;
  if (warned) spdlog::info("{} consumer {} bound", prefix_, r.up.durable);
  r.reconnects = shared_.conn->reconnects();
  if (!await_redeliveries(stop_, r.js.raw(), shared_.stream, r.up.durable, shared_.flow.settings.ack_wait,
                          prefix_, r.in_order))
    return false;
  bool info_warned = false;
  while (!stop_.stopping()) {
    auto info = bus::stream_info(r.js.raw(), shared_.stream);
    if (info) {
      r.source = consumer_source(r.up.durable, info->created_ns);
      return true;
    }
    if (!info_warned) spdlog::warn("{} stream info: {}", prefix_, info.status().text());
    info_warned = true;
    idle(stop_, 1s);
  }
  return false;
}

bool ConsumerStage::recover(PositionLog& log, jsCtx* js) {
  bool warned = false;
  while (!stop_.stopping()) {
    auto st = log.recover(js);
    if (st.ok()) return true;
    if (!warned) spdlog::warn("{} cannot read its stored positions yet: {}", prefix_, st.text());
    warned = true;
    idle(stop_, 1s);
  }
  return false;
}

bool ConsumerStage::open_log(Reader& r) {
  r.log = std::make_unique<PositionLog>(shared_.flow.name, shared_.stream, r.up.durable,
                                        StageRound::published_subjects(stage_));
  r.log->set_key_filter(r.source);
  shared_.positions.add(r.log.get());
  return recover(*r.log, r.js.raw());
}

void ConsumerStage::close_log(PositionLog* log, bus::AsyncPublisher* pub) {
  if (!log) return;
  if (pub) (void)log->checkpoint(*pub);
  shared_.positions.remove(log);
}

bool ConsumerStage::fetch(Reader& r, std::chrono::milliseconds wait, std::vector<bus::Msg>& msgs,
                          std::vector<bus::Msg>& ready) {
  r.fetched = 0;
  // A broker restart leaves what it had delivered unacked: it comes back after ack_wait.
  if (const auto now = shared_.conn->reconnects(); now != r.reconnects) {
    r.reconnects = now;
    if (!await_redeliveries(stop_, r.js.raw(), shared_.stream, r.up.durable, shared_.flow.settings.ack_wait,
                            prefix_, r.in_order))
      return false;
  }
  msgs.clear();
  auto st = r.consumer.fetch(r.in_order.want(fetch_batches), wait, msgs);
  r.fetched = msgs.size();
  if (!st.ok() && !st.is_timeout()) {
    if (!r.fetch_failing) spdlog::warn("{} fetch from {} failed: {}", prefix_, r.up.durable, st.text());
    r.fetch_failing = true;
    idle(stop_, 250ms);
    return false;
  }
  if (r.fetch_failing && !msgs.empty()) {
    spdlog::info("{} fetching from {} again", prefix_, r.up.durable);
    r.fetch_failing = false;
  }
  // In stream order, the redeliveries after a crash all together: positions.hpp.
  if (!r.in_order.add(msgs, ready)) return false;
  return shared_.await_on_disk(ready, stop_);
}

void ConsumerStage::run(std::size_t upstream) {
  std::unique_ptr<bus::AsyncPublisher> pub;
  Reader r(stage_.upstreams[upstream]);
  // Acks that wait for the store to be synced go out before the consumer goes.
  struct DrainAcks {
    FlowShared& shared;
    ~DrainAcks() { shared.drain_acks(); }
  } drain_acks{shared_};
  if (!connect(pub, r)) return;
  const auto root = stage_.members.front().component;
  if (dynamic_cast<sdk::BatchOutput*>(shared_.components[root].get())) {
    run_forwarding(shared_, stop_, stage_, r.consumer, r.js, *pub, serial_, std::move(r.source), r.in_order);
    return;
  }
  struct Close {
    ConsumerStage& stage;
    Reader& r;
    bus::AsyncPublisher* pub;
    ~Close() { stage.close_log(r.log.get(), pub); }
  } close{*this, r, pub.get()};
  if (!open_log(r)) return;
  StageRound round(shared_, stop_, stage_, *pub, &serial_, r.log.get(), r.source);
  std::vector<bus::Msg> msgs, ready;
  while (!stop_.stopping()) {
    if (fetch(r, 500ms, msgs, ready)) round.handle(ready);
    ready.clear();
  }
}

void ConsumerStage::run_stateful(sdk::StatefulProcessor& proc) {
  std::unique_ptr<bus::AsyncPublisher> pub;
  std::vector<std::unique_ptr<Reader>> readers;
  readers.reserve(stage_.upstreams.size());
  for (const auto& up : stage_.upstreams) readers.push_back(std::make_unique<Reader>(up));
  struct DrainAcks {
    FlowShared& shared;
    ~DrainAcks() { shared.drain_acks(); }
  } drain_acks{shared_};
  for (auto& r : readers)
    if (!connect(pub, *r)) return;
  const auto root = stage_.members.front().component;
  // Results keyed by a moment are a publisher of their own (positions.hpp), one per component.
  PositionLog timed(shared_.flow.name, shared_.stream, shared_.flow.components[root].id + "__timed",
                    StageRound::published_subjects(stage_));
  StatefulRound sr;
  StateKeeper keeper(shared_, root, proc);
  sr.keeper = &keeper;
  sr.clock = &clock_;
  sr.timed_log = &timed;
  sr.key = "timed:" + shared_.flow.components[root].id;
  timed.set_key_filter(sr.key);
  shared_.positions.add(&timed);
  struct Close {
    ConsumerStage& stage;
    std::vector<std::unique_ptr<Reader>>& readers;
    PositionLog& timed;
    bus::AsyncPublisher* pub;
    ~Close() {
      for (auto& r : readers) stage.close_log(r->log.get(), pub);
      stage.close_log(&timed, pub);
    }
  } close{*this, readers, timed, pub.get()};
  for (auto& r : readers)
    if (!open_log(*r)) return;
  if (!recover(timed, readers.front()->js.raw())) return;
  bool warned = false;
  while (!stop_.stopping()) {
    auto st = keeper.restore(readers.front()->js.raw());
    if (st.ok()) break;
    if (!warned) spdlog::warn("{} cannot read its stored state yet: {}", prefix_, st.text());
    warned = true;
    idle(stop_, 1s);
  }
  if (stop_.stopping()) return;
  std::vector<std::unique_ptr<StageRound>> rounds;
  rounds.reserve(readers.size());
  for (auto& r : readers)
    rounds.push_back(
        std::make_unique<StageRound>(shared_, stop_, stage_, *pub, &serial_, r->log.get(), r->source, &sr));
  const auto tick = proc.tick_interval();
  auto next_tick = std::chrono::steady_clock::now() + tick;
  // With several upstreams, a quiet one must not hold up the others long.
  const auto wait = std::max<std::chrono::milliseconds>(500ms / readers.size(), 20ms);
  std::vector<bus::Msg> msgs, ready;
  while (!stop_.stopping()) {
    bool idle_pass = true;
    for (std::size_t i = 0; i < readers.size() && !stop_.stopping(); ++i) {
      if (fetch(*readers[i], wait, msgs, ready)) rounds[i]->handle(ready);
      idle_pass = idle_pass && readers[i]->fetched == 0;
      ready.clear();
    }
    // Time passes for it only while nothing is waiting: a backlog (after a restart, say) is
    // handled first, so that an idle timeout never closes what the backlog still feeds.
    if (tick.count() > 0 && idle_pass && std::chrono::steady_clock::now() >= next_tick) {
      rounds.front()->tick(StageClock::wall());
      next_tick = std::chrono::steady_clock::now() + tick;
    }
    if (keeper.due()) (void)keeper.snapshot(*pub);
    keeper.keep_alive();
  }
  // What was handled is acked once a last snapshot covers it (unless the broker is gone: then
  // it comes again and is skipped or handled anew).
  if (!stop_.past_drain_deadline()) (void)keeper.snapshot(*pub);
}

}  // namespace weir::runtime
