#include "runtime/janitor.hpp"

#include <spdlog/spdlog.h>

#include "bus/topology.hpp"

namespace weir::runtime {

Janitor::Janitor(FlowShared& shared, std::chrono::milliseconds every)
    : shared_(shared), every_(every), durables_(shared.plan.durables()) {}

Janitor::~Janitor() { stop(); }

void Janitor::start() {
  thread_ = std::thread([this] {
    name_thread("janitor:" + shared_.flow.name);
    run();
  });
}

void Janitor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Janitor::sweep(jsCtx* js) {
  // Right after a reconnect (the broker may have restarted) consumer state is not trusted for a
  // while: redeliveries of what was in flight come first.
  const auto reconnects = shared_.conn->reconnects();
  const auto now = std::chrono::steady_clock::now();
  if (reconnects != seen_reconnects_) {
    seen_reconnects_ = reconnects;
    quiet_until_ = now + 2 * shared_.flow.settings.ack_wait;
  }
  // Checkpoints first: they are what lets the purge below go past each publisher's last data.
  std::uint64_t hold = 1;
  if (!pub_) {
    auto p = bus::AsyncPublisher::create(*shared_.conn);
    if (p) pub_ = std::move(p.value());
  }
  if (pub_) hold = shared_.positions.checkpoint_all(*pub_);
  if (now < quiet_until_) return 0;
  // The stream's last sequence before looking at the consumers: a consumer with nothing pending
  // then has acknowledged everything of its subject up to there.
  auto before = bus::stream_info(js, shared_.stream);
  if (!before || before->messages == 0) return 0;
  std::uint64_t floor = before->last_seq;
  for (const auto& durable : durables_) {
    auto info = bus::consumer_info(js, shared_.stream, durable);
    // Unknown, or messages waiting for redelivery: keep everything for now.
    if (!info || info->num_redelivered > 0) return 0;
    if (info->num_pending > 0 || info->num_ack_pending > 0) floor = std::min(floor, info->ack_floor_stream_seq);
  }
  // A publisher's data after its last stored checkpoint is its recovery record.
  if (hold != 0) floor = std::min(floor, hold - 1);
  if (floor < before->first_seq || floor + 1 <= purged_below_) return 0;
  // Whole-stream purge below a sequence (see bus::purge_stream on why not per subject), so the
  // floor is taken over every consumer of the stream.
  auto st = bus::purge_stream(js, shared_.stream, "", floor + 1);
  if (!st.ok()) {
    spdlog::debug("[{}] janitor: {}", shared_.flow.name, st.text());
    return 0;
  }
  purged_below_ = floor + 1;
  auto after = bus::stream_info(js, shared_.stream);
  return after && before->messages > after->messages ? before->messages - after->messages : 0;
}

void Janitor::run() {
  bus::JetStream js;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, every_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (!js) {
      auto j = shared_.conn->jetstream();
      if (j) js = std::move(j.value());
    }
    if (js) sweep(js.raw());
    lock.lock();
  }
}

}  // namespace weir::runtime
