#include "runtime/stage_round.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "runtime/state_keeper.hpp"
#include "sdk/base/json_write.hpp"

namespace weir::runtime {

namespace {
// Keeps one published batch well under NATS's default 1 MiB max_payload.
constexpr std::size_t chunk_bytes = 768 * 1024;
// A batch's outputs on one port are numbered chunks; a chunk's position is seq * this + chunk.
constexpr std::uint64_t chunks_per_batch = 1024;
}  // namespace

std::vector<std::string> StageRound::published_subjects(const graph::Stage& stage) {
  std::vector<std::string> out;
  for (const auto& m : stage.members)
    for (const auto& r : m.ports)
      if (r.publish) out.push_back(r.subject);
  return out;
}

class StageRound::Emitter final : public sdk::TimedEmitter {
 public:
  Emitter(StageRound& round, std::size_t member) : round_(round), member_(member) {}
  void emit(sdk::Port port, sdk::Record&& rec) override {
    round_.route(member_, port.index(), std::move(rec), {});
  }
  void emit_at(sdk::Millis at, sdk::Port port, sdk::Record&& rec) override {
    round_.route_timed(member_, at, port.index(), std::move(rec));
  }
  void fail(sdk::Record&& rec, std::string_view reason) override {
    auto c = round_.stage_.members[member_].component;
    round_.shared_.counters[c].errors++;
    auto err = error_record(round_.shared_, c, std::move(rec), reason);
    round_.route(member_, round_.stage_.members[member_].ports.size() - 1, std::move(err), reason);
  }

 private:
  StageRound& round_;
  std::size_t member_;
};

StageRound::StageRound(FlowShared& shared, const StageStop& stop, const graph::Stage& stage,
                       bus::AsyncPublisher& pub, std::mutex* serial, PositionLog* log, std::string source,
                       const StatefulRound* stateful)
    : shared_(shared),
      stop_(stop),
      stage_(stage),
      pub_(pub),
      serial_(serial),
      prefix_(shared.prefix(stage.members.front().component)),
      log_(log),
      source_(std::move(source)) {
  std::size_t next = 0;
  subject_index_.resize(stage.members.size());
  for (std::size_t m = 0; m < stage.members.size(); ++m)
    for (const auto& r : stage.members[m].ports) subject_index_[m].push_back(r.publish ? next++ : 0);
  out_.resize(stage.members.size());
  chunks_.resize(stage.members.size());
  for (std::size_t m = 0; m < stage.members.size(); ++m) {
    out_[m].resize(stage.members[m].ports.size());
    chunks_[m].resize(stage.members[m].ports.size());
  }
  dead_.resize(stage.members.size());
  dead_chunks_.resize(stage.members.size());
  emitted_.resize(stage.members.size());
  for (std::size_t m = 0; m < stage.members.size(); ++m) emitted_[m].resize(stage.members[m].ports.size());
  dead_reason_.resize(stage.members.size());
  stateful_ = stateful;
  timed_out_.resize(stage.members.front().ports.size());
  timed_chunks_.resize(stage.members.front().ports.size());
}

void StageRound::handle(std::vector<bus::Msg>& msgs) {
  std::size_t done = 0;
  auto backoff = std::chrono::milliseconds(100);
  while (done < msgs.size()) {
    if (handle_one(msgs[done])) {
      ++done;
      continue;
    }
    // A write that failed as a whole (the target is down, the disk full) is retried here, in
    // order, for as long as it takes: upstream waits in the flow's stream (backpressure). The
    // in-progress acks keep JetStream from redelivering meanwhile; only a crash hands the batch
    // back (then max_deliver bounds the attempts). Records the output rejected one by one went
    // to the error port already.
    if (stop_.stopping()) break;
    shared_.counters[stage_.members.front().component].retries++;
    for (std::size_t i = done; i < msgs.size(); ++i) (void)msgs[i].in_progress();
    idle(stop_, backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  flush_timed();
  // What is left unacknowledged (stopping) comes back after ack_wait, with the same ids.
  if (!settle_logs()) return;
  std::vector<bus::Msg> handled(std::make_move_iterator(msgs.begin()),
                                std::make_move_iterator(msgs.begin() + static_cast<std::ptrdiff_t>(done)));
  // A stateful root's inputs wait for the snapshot that covers them.
  if (stateful_)
    stateful_->keeper->hold(std::move(handled));
  else
    shared_.ack_when_on_disk(std::move(handled), prefix_);
}

bool StageRound::settle_logs() {
  auto* timed = stateful_ ? stateful_->timed_log : nullptr;
  if (!settle(stop_, pub_, prefix_)) {
    // Not stored as far as anyone knows: upstream redelivers.
    if (log_) log_->abandon();
    if (timed) timed->abandon();
    return false;
  }
  if (log_) log_->settled(pub_.last_acked_seq());
  if (timed) timed->settled(pub_.last_acked_seq());
  return true;
}

void StageRound::tick(sdk::Millis now) {
  auto* proc =
      static_cast<sdk::StatefulProcessor*>(shared_.components[stage_.members.front().component].get());
  stateful_->clock->set(now);
  current_in_id_ = "tick:" + std::to_string(now);
  current_pos_ = 0;
  Emitter out(*this, 0);
  std::fill(emitted_[0].begin(), emitted_[0].end(), 0);
  try {
    proc->advance(now, out);
  } catch (const std::exception& e) {
    spdlog::error("{} advance() threw: {}", prefix_, e.what());
  }
  flush_timed();
  publish_outputs();
  stateful_->keeper->touch();
  (void)settle_logs();
}

void StageRound::route_timed(std::size_t member, sdk::Millis at, std::size_t port, sdk::Record&& rec) {
  const auto& m = stage_.members[member];
  // The error port, a port read in the stage, or a stage without a keeper: as any result.
  if (!stateful_ || member != 0 || port + 1 == m.ports.size() || !m.ports[port].local.empty()) {
    route(member, port, std::move(rec), {});
    return;
  }
  if (at != timed_at_) flush_timed();
  timed_at_ = at;
  const auto& decl = shared_.flow.components[m.component];
  rec.id = derive_id(rec.id, decl.id, decl.info->outputs[port].name);
  shared_.counters[m.component].count_out(port);
  shared_.taps->offer(m.component, port, rec);
  if (!m.ports[port].publish) return;  // nobody reads the port
  auto& w = timed_out_[port];
  auto added = w.add(rec, shared_.max_body);
  if (added == BatchWriter::Added::full) {
    publish_timed(port);
    added = w.add(rec, shared_.max_body);
  }
  if (added == BatchWriter::Added::too_large) {
    std::string why;
    auto err = oversize_error_record(shared_, m.component, std::move(rec), why);
    shared_.counters[m.component].errors++;
    route(member, m.ports.size() - 1, std::move(err), why);
    return;
  }
  if (w.bytes() >= std::min(chunk_bytes, shared_.max_body)) publish_timed(port);
}

void StageRound::publish_timed(std::size_t port) {
  const auto c = stage_.members.front().component;
  const auto& decl = shared_.flow.components[c];
  auto& w = timed_out_[port];
  const std::uint64_t chunk = timed_chunks_[port]++;
  auto id = derive_id("t" + std::to_string(timed_at_), decl.id,
                      decl.info->outputs[port].name + "#" + std::to_string(chunk));
  std::string position;
  auto* log = stateful_->timed_log;
  if (log && timed_at_ > 0 && chunk < chunks_per_batch) {
    const auto at = static_cast<std::uint64_t>(timed_at_) * chunks_per_batch + chunk;
    const auto subject = subject_index_[0][port];
    if (log->covers(subject, stateful_->key, at)) {
      // Stored before the crash that made it come again: not a second time.
      shared_.counters[c].replays += w.count();
      w.clear();
      return;
    }
    position = log->publishing(subject, stateful_->key, at, at);
  }
  auto st = publish_batch(pub_, stage_.members.front().ports[port].subject, w, id, {}, {}, {}, position);
  if (!st.ok()) spdlog::debug("{} publish: {}", prefix_, st.text());  // retried in settle()
  w.clear();
}

void StageRound::flush_timed() {
  for (std::size_t p = 0; p < timed_out_.size(); ++p) {
    if (!timed_out_[p].empty()) publish_timed(p);
    timed_chunks_[p] = 0;
  }
}

bool StageRound::handle_one(bus::Msg& msg) {
  auto meta = msg.metadata();
  const std::uint64_t seq = meta.ok() ? meta->stream_seq : 0;
  std::string in_id = msg.msg_id();
  if (in_id.empty()) in_id = "seq:" + std::to_string(seq);
  // Delivered again and again: each time the engine crashed or was killed before acking it.
  if (meta.ok() && meta->num_delivered > static_cast<std::uint64_t>(shared_.flow.settings.max_deliver))
    return dead_letter_message(msg, in_id,
                               "delivered " + std::to_string(meta->num_delivered) + " times without success");
  // Applied to a stateful root's state before its last snapshot: only its ack was missing.
  if (stateful_ && stateful_->keeper->applied(source_, seq)) {
    shared_.counters[stage_.members.front().component].replays += batch_records(msg);
    return true;
  }
  if (stateful_ && meta.ok()) stateful_->clock->set(meta->timestamp_ns / 1'000'000);
  records_.clear();
  current_in_id_ = in_id;
  current_subject_ = msg.subject();
  current_pos_ = seq;
  std::string error;
  if (!reader_.decode(msg.view(), records_, error)) return dead_letter_message(msg, in_id, error);
  const auto root = stage_.members.front().component;
  shared_.counters[root].records_in += records_.size();
  const auto started = std::chrono::steady_clock::now();
  if (stage_.kind == graph::StageKind::output) {
    if (!write_output(records_)) return false;
  } else {
    std::unique_lock lock(*serial_, std::defer_lock);
    if (!shared_.flow.components[root].info->stateless) lock.lock();
    for (auto& rec : records_) process(0, std::move(rec));
    if (stateful_) stateful_->keeper->mark(source_, seq);
  }
  shared_.counters[root].processing.observe(std::chrono::steady_clock::now() - started);
  publish_outputs();
  records_.clear();  // and with them the batch's arena (BatchReader)
  return true;
}

bool StageRound::dead_letter_message(bus::Msg& msg, const std::string& in_id, const std::string& reason) {
  const auto root = stage_.members.front().component;
  shared_.counters[root].dead_letters++;
  runtime::dead_letter_message(shared_, pub_, root, msg, in_id, reason);
  return true;
}

void StageRound::process(std::size_t member, sdk::Record&& rec) {
  const auto c = stage_.members[member].component;
  if (member != 0) shared_.counters[c].records_in++;
  auto* proc = static_cast<sdk::Processor*>(shared_.components[c].get());
  std::fill(emitted_[member].begin(), emitted_[member].end(), 0);
  Emitter out(*this, member);
  try {
    proc->process(std::move(rec), out);
  } catch (const std::exception& e) {
    // The record may have been moved from; what is left still names it by id.
    out.fail(std::move(rec), std::string("processor threw: ") + e.what());
  }
}

void StageRound::route(std::size_t member, std::size_t port, sdk::Record&& rec, std::string_view reason) {
  const auto& m = stage_.members[member];
  const auto& r = m.ports[port];
  // Ids derive per component and port (and per record emitted from one input), so that the two
  // branches of a fan-out never collide when they meet again, and a redelivery repeats them.
  {
    const auto& decl = shared_.flow.components[m.component];
    const auto k = emitted_[member][port]++;
    const auto& name = decl.info->outputs[port].name;
    rec.id = derive_id(rec.id, decl.id, k == 0 ? name : name + "/" + std::to_string(k));
  }
  const bool is_error = port + 1 == m.ports.size();
  if (r.publish || r.dead_letter) {
    // A record no message could carry goes to the error port instead (an error record that is
    // too large keeps the head of its `record`), never to a publish the server refuses for ever.
    auto& w = r.publish ? out_[member][port] : dead_[member];
    auto added = w.add(rec, shared_.max_body);
    if (added == BatchWriter::Added::full) {
      if (r.publish)
        publish_chunk(member, port);
      else
        publish_dead(member);
      added = w.add(rec, shared_.max_body);
    }
    if (added == BatchWriter::Added::too_large) {
      if (!is_error) {
        std::string why;
        auto err = oversize_error_record(shared_, m.component, std::move(rec), why);
        shared_.counters[m.component].errors++;
        route(member, m.ports.size() - 1, std::move(err), why);
        return;
      }
      if (!cut_error_record(rec, shared_.max_body) ||
          w.add(rec, shared_.max_body) != BatchWriter::Added::added) {
        spdlog::error(
            "{} an error record of {} bytes is dropped: even cut, no message can carry it (limit {})",
            prefix_, sdk::to_json(rec.value).size(), shared_.max_body);
        return;
      }
    }
    if (r.publish && w.bytes() >= std::min(chunk_bytes, shared_.max_body)) publish_chunk(member, port);
  }
  if (!is_error) shared_.counters[m.component].count_out(port);
  shared_.taps->offer(m.component, port, rec);
  if (r.dead_letter) {
    shared_.counters[m.component].dead_letters++;
    if (r.publish) {
      auto& d = dead_[member];
      if (d.add(rec, shared_.max_body) == BatchWriter::Added::full) {
        publish_dead(member);
        (void)d.add(rec, shared_.max_body);  // fits: it fit the port's batch
      }
    }
    if (dead_reason_[member].empty()) dead_reason_[member] = reason;
  }
  // Each local reader but the last gets a copy; the last takes the record.
  for (std::size_t i = 0; i + 1 < r.local.size(); ++i) process(r.local[i], sdk::Record(rec));
  if (!r.local.empty()) process(r.local.back(), std::move(rec));
}

void StageRound::publish_chunk(std::size_t member, std::size_t port) {
  const auto c = stage_.members[member].component;
  const auto& name = shared_.flow.components[c].info->outputs[port].name;
  auto& w = out_[member][port];
  auto& k = chunks_[member][port];
  const std::uint64_t chunk = k++;
  auto id = derive_id(current_in_id_, shared_.flow.components[c].id, name + "#" + std::to_string(chunk));
  std::string position;
  if (log_ && current_pos_ != 0 && chunk < chunks_per_batch) {
    const auto at = current_pos_ * chunks_per_batch + chunk;
    const auto subject = subject_index_[member][port];
    if (log_->covers(subject, source_, at)) {
      // Stored before (this batch is delivered again after a crash): not a second time.
      shared_.counters[c].replays += w.count();
      w.clear();
      return;
    }
    position = log_->publishing(subject, source_, at, at);
  }
  auto st = publish_batch(pub_, stage_.members[member].ports[port].subject, w, id, {}, {}, {}, position);
  if (!st.ok()) spdlog::debug("{} publish: {}", prefix_, st.text());  // retried in settle()
  w.clear();
}

void StageRound::publish_dead(std::size_t member) {
  const auto& id = shared_.flow.components[stage_.members[member].component].id;
  // The first chunk keeps the id a batch's dead letters always had; more chunks (a batch whose
  // dead letters outgrow a message) are numbered.
  const auto k = dead_chunks_[member]++;
  auto st = publish_batch(pub_, shared_.dlq_subject, dead_[member],
                          derive_id(current_in_id_, id, k == 0 ? "dead" : "dead#" + std::to_string(k)),
                          dead_reason_[member], id, current_subject_);
  if (!st.ok()) spdlog::debug("{} dead letter publish: {}", prefix_, st.text());
  dead_[member].clear();
}

void StageRound::publish_outputs() {
  for (std::size_t m = 0; m < out_.size(); ++m) {
    for (std::size_t p = 0; p < out_[m].size(); ++p) {
      if (!out_[m][p].empty()) publish_chunk(m, p);
      chunks_[m][p] = 0;
    }
    if (!dead_[m].empty()) publish_dead(m);
    dead_chunks_[m] = 0;
    dead_reason_[m].clear();
  }
}

bool StageRound::write_output(std::vector<sdk::Record>& records) {
  const auto c = stage_.members.front().component;
  auto* output = static_cast<sdk::Output*>(shared_.components[c].get());
  sdk::Rejects rejects;
  sdk::Status st;
  std::fill(emitted_[0].begin(), emitted_[0].end(), 0);
  {
    std::lock_guard lock(*serial_);
    try {
      st = output->write_at(sdk::Position{source_, current_pos_}, records, rejects);
    } catch (const std::exception& e) {
      st = sdk::Status::error(std::string("output threw: ") + e.what());
    }
  }
  if (!st) {
    if (!failing_) spdlog::warn("{} write failed, will retry: {}", prefix_, st.error());
    if (!failing_) shared_.counters[c].set_failing(st.error());
    failing_ = true;
    return false;
  }
  if (failing_) spdlog::info("{} writing again", prefix_);
  if (failing_) shared_.counters[c].clear_failing();
  failing_ = false;
  shared_.counters[c].records_out += records.size() - rejects.items.size();
  for (auto& [index, reason] : rejects.items) {
    if (index >= records.size()) continue;
    shared_.counters[c].errors++;
    auto err = error_record(shared_, c, std::move(records[index]), reason);
    route(0, stage_.members.front().ports.size() - 1, std::move(err), reason);
  }
  return true;
}

}  // namespace weir::runtime
