#include "runtime/janitor.hpp"

#include <spdlog/spdlog.h>

#include <map>

#include "bus/stream_messages.hpp"
#include "bus/topology.hpp"

namespace weir::runtime {

Janitor::Janitor(FlowShared& shared, std::chrono::milliseconds every) : shared_(shared), every_(every) {
  for (const auto& stage : shared.plan.stages)
    for (const auto& up : stage.upstreams) readers_.emplace_back(up.durable, up.subject);
}

Janitor::~Janitor() {
  stop();
}

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
  std::map<std::string, std::uint64_t> subject_floor;  // what every reader of a subject acked
  for (const auto& [durable, subject] : readers_) {
    auto info = bus::consumer_info(js, shared_.stream, durable);
    // Unknown, or messages waiting for redelivery: keep everything for now.
    if (!info || info->num_redelivered > 0) return 0;
    std::uint64_t acked = before->last_seq;
    if (info->num_pending > 0 || info->num_ack_pending > 0) acked = info->ack_floor_stream_seq;
    floor = std::min(floor, acked);
    auto [it, fresh] = subject_floor.emplace(subject, acked);
    if (!fresh) it->second = std::min(it->second, acked);
  }
  // A publisher's data after its last stored checkpoint is its recovery record.
  if (hold != 0) floor = std::min(floor, hold - 1);
  // In a flow whose inputs acknowledge only what is on disk, purges go to a block boundary and
  // never take the last message: nats-server 2.9 rewrites a block cut in its middle, and puts an
  // emptied stream's last sequence in a new index file, without an fsync; a power cut right after
  // could then empty the block (the acknowledged records after the cut point with it) or start
  // the sequences over (sinks would take new records for replays). See bus::block_first_seqs.
  std::uint64_t purge_to = floor + 1;
  const bool whole_blocks = shared_.sync_gate.load();
  if (whole_blocks) purge_to = block_boundary(floor + 1, before->last_seq);
  std::uint64_t removed = 0;
  if (purge_to > before->first_seq && purge_to > purged_below_) {
    // With inputs that acknowledge only what is on disk, what the stages made of the messages
    // about to go (stored before those were acknowledged, in this stream or another of the same
    // server: a nats_output's, the dead letters, the checkpoints) goes to disk first: otherwise a
    // power cut could take it back while the purge stays.
    if (!sync_store()) return 0;
    // Whole-stream purge below a sequence (see bus::purge_stream on why not per subject), so the
    // floor is taken over every consumer of the stream.
    auto st = bus::purge_stream(js, shared_.stream, "", purge_to);
    if (!st.ok()) {
      spdlog::debug("[{}] janitor: {}", shared_.flow.name, st.text());
      return 0;
    }
    purged_below_ = purge_to;
    auto after = bus::stream_info(js, shared_.stream);
    removed = after && before->messages > after->messages ? before->messages - after->messages : 0;
  }
  // Filling up: a slow reader holds the floor while what the others consumed above it stays,
  // interleaved; with `discard: new` that could leave a stage no room to publish and the flow
  // wedged. Then each subject's messages that all its readers acknowledged go one by one.
  const auto max = shared_.flow.settings.max_bytes.bytes;
  if (shared_.flow.settings.discard == flow::Discard::new_ && before->bytes > max / 2) {
    auto limit = hold != 0 ? hold - 1 : before->last_seq;
    if (whole_blocks) limit = std::min(limit, before->last_seq - 1);  // the last stays (see above)
    for (const auto& [subject, acked] : subject_floor) {
      const auto last = std::min(acked, limit);
      for (std::uint64_t from = std::max(purge_to, before->first_seq); from <= last;) {
        auto m = bus::get_next_msg(js, shared_.stream, subject, from);
        if (!m || m->seq > last) break;
        if (bus::delete_stream_msg(js, shared_.stream, m->seq).ok()) ++removed;
        from = m->seq + 1;
      }
    }
  }
  // nats-server 2.9 carries out a purge by rewriting files (the block holding the purge point,
  // the index, or a new msgs folder) without an fsync: what was synced for an acknowledgement is
  // on disk again only after the next sync, so that one follows at once.
  if (removed > 0) (void)sync_store();
  return removed;
}

std::uint64_t Janitor::block_boundary(std::uint64_t below, std::uint64_t last_seq) {
  auto firsts = bus::block_first_seqs(shared_.conn->store_dir(), shared_.stream);
  if (!firsts) {
    spdlog::debug("[{}] janitor: {}", shared_.flow.name, firsts.status().text());
    return 0;
  }
  std::uint64_t to = 0;
  for (const auto seq : firsts.value())
    if (seq <= below && seq <= last_seq) to = seq;
  return to;
}

bool Janitor::sync_store() {
  if (!shared_.sync_gate) return true;
  if (!store_sync_) store_sync_ = std::make_unique<bus::StreamSync>(shared_.conn->store_dir(), "");
  auto st = store_sync_->sync();
  if (!st.ok())
    spdlog::warn("[{}] janitor: no purge while the store cannot be synced: {}", shared_.flow.name, st.text());
  return st.ok();
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
