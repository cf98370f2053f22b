#include "runtime/forward_round.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>

#include "bus/topology.hpp"
#include "core/hash.hpp"

namespace weir::runtime {

using namespace std::chrono_literals;

namespace {

struct Slot {
  std::uint64_t ticket = 0;  // names the slot in the output's callback
  bus::Msg msg;
  std::string in_id;
  std::size_t records = 0;
  bool done = false;
  sdk::Status result;
};

class Forwarder {
 public:
  Forwarder(FlowShared& shared, const StageStop& stop, const graph::Stage& stage, bus::AsyncPublisher& pub,
            std::mutex& serial)
      : shared_(shared),
        stop_(stop),
        pub_(pub),
        serial_(serial),
        component_(stage.members.front().component),
        prefix_(shared.prefix(component_)),
        output_(dynamic_cast<sdk::BatchOutput*>(shared.components[component_].get())),
        state_(std::make_shared<State>()) {}

  ~Forwarder() {
    // Callbacks that run after this (the output stops later) find the state and do nothing.
    std::lock_guard lock(state_->mu);
    state_->closed = true;
  }

  void run(bus::PullConsumer& consumer, bus::JetStream& js, std::string source, bus::InOrder& in_order) {
    source_ = std::move(source);
    std::vector<bus::Msg> msgs, ready;
    std::size_t next = 0;  // ready[next..] wait for room in the window
    auto last_progress = std::chrono::steady_clock::now();
    const auto keepalive = std::max<std::chrono::nanoseconds>(shared_.flow.settings.ack_wait / 3, 100ms);
    bool fetch_failing = false;
    auto reconnects = shared_.conn->reconnects();
    auto hold_fetch_until = std::chrono::steady_clock::time_point{};
    while (!stop_.stopping()) {
      settle_done();
      // After a broker restart, what it had delivered and this side never received comes back
      // after ack_wait: positions must reach the peer in order, so nothing new is read before.
      if (const auto n = shared_.conn->reconnects(); n != reconnects) {
        reconnects = n;
        auto info = bus::consumer_info(js.raw(), shared_.stream, consumer.durable());
        if (!info || info->num_ack_pending > static_cast<std::int64_t>(inflight_.size())) {
          const auto ack_wait = shared_.flow.settings.ack_wait;
          hold_fetch_until = std::chrono::steady_clock::now() + bus::redelivery_wait(ack_wait);
          // They come back in no particular order: gathered and sorted first.
          if (info)
            in_order.expect(info->num_ack_pending - static_cast<std::int64_t>(inflight_.size()),
                            bus::redelivery_wait(ack_wait) + 2 * ack_wait + std::chrono::seconds(5));
          spdlog::info("{} reconnected with messages unacknowledged: reading again after ack_wait", prefix_);
        }
      }
      const std::size_t window = std::max<std::size_t>(1, output_->window());
      if (std::chrono::steady_clock::now() < hold_fetch_until) {
        std::unique_lock lock(state_->mu);
        state_->cv.wait_for(lock, 100ms, [&] { return !state_->results.empty() || stop_.stopping(); });
      } else if (inflight_.size() < window) {
        if (next == ready.size()) {
          ready.clear();
          next = 0;
          msgs.clear();
          const int want = static_cast<int>(std::min<std::size_t>(window - inflight_.size(), 64));
          // With batches in flight the fetch must come back soon to ack what completes.
          auto st = consumer.fetch(in_order.want(want), inflight_.empty() ? 500ms : 20ms, msgs);
          if (!st.ok() && !st.is_timeout()) {
            if (!fetch_failing) spdlog::warn("{} fetch failed: {}", prefix_, st.text());
            fetch_failing = true;
            idle(stop_, 250ms);
          } else {
            fetch_failing = false;
          }
          // Positions reach the peer in stream order (the redeliveries after a crash together).
          if (in_order.add(msgs, ready) && !shared_.await_on_disk(ready, stop_)) ready.clear();
        }
        while (next < ready.size() && inflight_.size() < window) submit(std::move(ready[next++]));
      } else {
        std::unique_lock lock(state_->mu);
        state_->cv.wait_for(lock, 100ms, [&] { return !state_->results.empty() || stop_.stopping(); });
      }
      // Batches waiting for the far side (a link that is down) must not be redelivered.
      auto now = std::chrono::steady_clock::now();
      if (now - last_progress >= keepalive) {
        for (auto& s : inflight_)
          if (!s.done) (void)s.msg.in_progress();
        for (std::size_t i = next; i < ready.size(); ++i) (void)ready[i].in_progress();
        last_progress = now;
      }
    }
    // Stopping: what completes before the drain deadline is still acked.
    while (!inflight_.empty() && !stop_.past_drain_deadline()) {
      settle_done();
      if (inflight_.empty()) break;
      std::unique_lock lock(state_->mu);
      state_->cv.wait_for(lock, 50ms);
    }
    settle_done();
    if (!inflight_.empty())
      spdlog::info(
          "{} stopping with {} batches unconfirmed by the peer; they are sent again at the next start",
          prefix_, inflight_.size());
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::uint64_t, sdk::Status>> results;  // by ticket
    bool closed = false;
  };

  void submit(bus::Msg&& msg) {
    auto meta = msg.metadata();
    std::string in_id = msg.msg_id();
    if (in_id.empty()) in_id = "seq:" + std::to_string(meta.ok() ? meta->stream_seq : 0);
    if (meta.ok() && meta->num_delivered > static_cast<std::uint64_t>(shared_.flow.settings.max_deliver)) {
      // Sent again and again: each time the engine stopped hard before the peer confirmed it.
      dead_letter(msg, in_id, "delivered " + std::to_string(meta->num_delivered) + " times without success");
      if (settle(stop_, pub_, prefix_)) (void)msg.ack();
      return;
    }
    sdk::Batch batch;
    batch.id = in_id;
    batch.source = source_;
    batch.position = meta.ok() ? meta->stream_seq : 0;
    batch.body.assign(msg.view());
    batch.records = batch_records(msg);
    shared_.counters[component_].records_in += batch.records;
    const std::uint64_t ticket = next_ticket_++;
    inflight_.push_back(Slot{ticket, std::move(msg), std::move(in_id), batch.records, false, {}});
    auto state = state_;
    std::lock_guard lock(serial_);
    output_->send(std::move(batch), [state, ticket](sdk::Status st) {
      std::lock_guard l(state->mu);
      if (state->closed) return;
      state->results.emplace_back(ticket, std::move(st));
      state->cv.notify_all();
    });
  }

  // Acks (or dead-letters) what the output finished, in any order.
  void settle_done() {
    std::vector<std::pair<std::uint64_t, sdk::Status>> results;
    {
      std::lock_guard lock(state_->mu);
      results.swap(state_->results);
    }
    if (results.empty()) return;
    bool dead = false;
    for (auto& [ticket, st] : results) {
      for (auto& slot : inflight_) {
        if (slot.ticket != ticket) continue;
        slot.done = true;
        if (!st) {
          dead_letter(slot.msg, slot.in_id, "refused by the peer: " + st.error());
          dead = true;
        }
        slot.result = std::move(st);
        break;
      }
    }
    // A refused batch is acked only once its dead letter is stored.
    if (dead && !settle(stop_, pub_, prefix_)) return;
    for (std::size_t i = 0; i < inflight_.size();) {
      if (!inflight_[i].done) {
        ++i;
        continue;
      }
      auto& slot = inflight_[i];
      if (slot.result) shared_.counters[component_].records_out += slot.records;
      auto st = slot.msg.ack();
      if (!st.ok()) spdlog::debug("{} ack: {}", prefix_, st.text());
      inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  void dead_letter(const bus::Msg& msg, const std::string& in_id, const std::string& reason) {
    shared_.counters[component_].dead_letters += batch_records(msg);
    auto records = msg.header("Weir-Records");
    dead_letter_message(shared_, pub_, component_, msg, in_id, reason,
                        records ? *records : std::string_view{});
  }

  FlowShared& shared_;
  const StageStop& stop_;
  bus::AsyncPublisher& pub_;
  std::mutex& serial_;
  std::size_t component_;
  std::string prefix_;
  sdk::BatchOutput* output_;
  std::shared_ptr<State> state_;
  std::deque<Slot> inflight_;
  std::uint64_t next_ticket_ = 0;
  std::string source_;
};

}  // namespace

void run_forwarding(FlowShared& shared, const StageStop& stop, const graph::Stage& stage,
                    bus::PullConsumer& consumer, bus::JetStream& js, bus::AsyncPublisher& pub,
                    std::mutex& serial, std::string source, bus::InOrder& in_order) {
  Forwarder(shared, stop, stage, pub, serial).run(consumer, js, std::move(source), in_order);
}

}  // namespace weir::runtime
