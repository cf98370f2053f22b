#include "runtime/janitor.hpp"

#include <spdlog/spdlog.h>

#include "bus/topology.hpp"

namespace weir::runtime {

bus::Status purge_subject(jsCtx* js, const std::string& stream, const std::string& subject,
                          std::uint64_t below_seq) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = subject.c_str();
  o.Stream.Purge.Sequence = below_seq;  // 0: the whole subject
  jsErrCode jerr{};
  const natsStatus s = js_PurgeStream(js, stream.c_str(), &o, &jerr);
  return bus::from_nats(s, "purge " + subject + " in " + stream, jerr);
}

Janitor::Janitor(FlowShared& shared, std::chrono::milliseconds every) : shared_(shared), every_(every) {
  for (const auto& stage : shared_.plan.stages)
    for (const auto& up : stage.upstreams) readers_[up.subject].push_back(up.durable);
}

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
  std::uint64_t purged = 0;
  // Right after a reconnect (the broker may have restarted) consumer state is not trusted for a
  // while: redeliveries of what was in flight come first.
  const auto reconnects = shared_.conn->reconnects();
  const auto now = std::chrono::steady_clock::now();
  if (reconnects != seen_reconnects_) {
    seen_reconnects_ = reconnects;
    quiet_until_ = now + 2 * shared_.flow.settings.ack_wait;
  }
  if (now < quiet_until_) return 0;
  for (const auto& [subject, durables] : readers_) {
    std::uint64_t floor = UINT64_MAX;
    for (const auto& durable : durables) {
      auto info = bus::consumer_info(js, shared_.stream, durable);
      // Unknown, or messages waiting for redelivery: keep everything of this subject for now.
      if (!info || info->num_redelivered > 0) {
        floor = 0;
        break;
      }
      floor = std::min(floor, info->ack_floor_stream_seq);
    }
    if (floor == 0 || floor == UINT64_MAX || purged_below_[subject] >= floor + 1) continue;
    auto before = bus::stream_info(js, shared_.stream);
    auto st = purge_subject(js, shared_.stream, subject, floor + 1);
    if (!st.ok()) {
      spdlog::debug("[{}] janitor: {}", shared_.flow.name, st.text());
      continue;
    }
    purged_below_[subject] = floor + 1;
    auto after = bus::stream_info(js, shared_.stream);
    if (before && after && before->messages > after->messages) purged += before->messages - after->messages;
  }
  return purged;
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
