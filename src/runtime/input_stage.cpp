#include "runtime/input_stage.hpp"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include "bus/topology.hpp"
#include "core/hash.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/record_json.hpp"

namespace weir::runtime {

InputStage::InputStage(FlowShared& shared, const graph::Stage& stage)
    : shared_(shared),
      stage_(stage),
      stop_(shared),
      component_(stage.members.front().component),
      prefix_(shared.prefix(component_)) {
  const auto& ports = stage.members.front().ports;
  open_.resize(ports.size());
  open_at_.resize(ports.size());
  std::vector<std::string> subjects;
  for (const auto& r : ports) {
    subject_index_.push_back(subjects.size());
    if (r.publish) subjects.push_back(r.subject);
  }
  log_ =
      std::make_unique<PositionLog>(shared.flow.name, shared.stream,
                                    "input__" + shared.flow.components[component_].id, std::move(subjects));
  boot_ =
      core::hex64(static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
}

InputStage::~InputStage() {
  join();
}

void InputStage::start() {
  thread_ = std::thread([this] {
    name_thread("in:" + shared_.flow.components[component_].id);
    run();
  });
}

void InputStage::join() {
  if (thread_.joinable()) thread_.join();
}

void InputStage::run() {
  using namespace std::chrono_literals;
  while (!pub_) {
    auto pub =
        bus::AsyncPublisher::create(*shared_.conn, {.max_pending = 4096, .track_stream = shared_.stream});
    if (pub) {
      pub_ = std::move(pub.value());
      break;
    }
    spdlog::warn("{} cannot publish yet: {}", prefix_, pub.status().text());
    idle(stop_, 1s);
    if (stop_.stopping()) return;
  }
  shared_.positions.add(log_.get());
  if (recover_positions()) {
    auto* input = dynamic_cast<sdk::Input*>(shared_.components[component_].get());
    try {
      input->run(*this);
    } catch (const std::exception& e) {
      spdlog::error("{} input failed: {}", prefix_, e.what());
    }
    flush();
  }
  // What the input handed over is acknowledged (or not) before the component stops.
  if (commit_ && !commit_->drain(std::chrono::seconds(10)))
    spdlog::warn(
        "{} stopping while the stream's files are not synced: the source sends again what was not "
        "acknowledged",
        prefix_);
  (void)log_->checkpoint(*pub_);
  shared_.positions.remove(log_.get());
}

bool InputStage::recover_positions() {
  using namespace std::chrono_literals;
  bool warned = false;
  while (!stopping()) {
    auto js = shared_.conn->jetstream();
    auto st = js ? log_->recover(js->raw()) : js.status();
    if (st.ok()) return true;
    if (!warned) spdlog::warn("{} cannot read its stored positions yet: {}", prefix_, st.text());
    warned = true;
    idle(stop_, 1s);
  }
  return false;
}

// With discard: new, inputs keep to part of the flow's stream, so that the stages always have
// room to publish what they make of it (and then ack, which lets the janitor free space). A
// stream filled by its inputs alone would wedge every stage behind them.
static std::uint64_t input_share(const flow::Settings& s) {
  const auto max = s.max_bytes.bytes;
  const auto headroom =
      std::min<std::uint64_t>(max / 2, std::max<std::uint64_t>(max / 4, 2 * s.batch_bytes.bytes));
  return max - headroom;
}

// What must stay free on the nats store's file system before an input publishes: the stages'
// publishes in flight behind it and the server's own writes. nats-server 2.9.10 wedges a stream
// for good on a failed write (its file store deadlocks; only a SIGKILL ends it), so the store
// must never be the one to find the disk full.
static std::uint64_t disk_reserve(const flow::Settings& s) {
  return std::max<std::uint64_t>(8u << 20,
                                 2 * s.batch_bytes.bytes * static_cast<std::uint64_t>(s.publish_window));
}

static std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + "." + std::to_string(((bytes & ((1u << 20) - 1)) * 10) >> 20) + " MiB";
}

void InputStage::hold_back(const std::string& why) {
  spdlog::warn("{} {}", prefix_, why);
  shared_.counters[component_].set_failing(why);
  shared_.counters[component_].retries++;
}

bool InputStage::admit_disk() {
  using namespace std::chrono_literals;
  const auto& dir = shared_.conn->store_dir();
  if (dir.empty()) return true;  // an external server whose store is unknown: not watched
  if (!disk_held_ && std::chrono::steady_clock::now() - disk_read_ < 250ms) return true;
  const auto reserve = disk_reserve(shared_.flow.settings);
  for (;;) {
    disk_read_ = std::chrono::steady_clock::now();
    struct statvfs sv {};
    if (::statvfs(dir.c_str(), &sv) != 0) return true;  // publishing finds out
    const std::uint64_t free = static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
    // Resumes a quarter above the reserve, so that a disk at the edge does not flap.
    if (free >= (disk_held_ ? reserve + reserve / 4 : reserve)) {
      if (disk_held_) {
        spdlog::info("{} the nats store's disk has room again ({} free): reading on", prefix_, mib(free));
        shared_.counters[component_].clear_failing();
        disk_held_ = false;
      }
      return true;
    }
    // As with a full stream: what is in flight is settled first (it may still fit).
    settle_inflight();
    if (!disk_held_) {
      const auto why = "held back: the disk of the nats store (" + dir + ") has only " + mib(free) +
                       " free, below the reserve of " + mib(reserve) + "; waiting for space";
      hold_back(why);
      disk_held_ = true;
    }
    idle(stop_, 250ms);
    if (stop_.stopping()) return false;
  }
}

bool InputStage::admit(std::size_t bytes) {
  using namespace std::chrono_literals;
  if (!admit_disk()) return false;
  const auto& s = shared_.flow.settings;
  if (s.discard != flow::Discard::new_) return true;
  const auto share = input_share(s);
  auto now = std::chrono::steady_clock::now();
  if (now - stream_read_ < 250ms && stream_bytes_ + bytes <= share) {
    stream_bytes_ += bytes;
    return true;
  }
  for (;;) {
    if (!js_) {
      auto j = shared_.conn->jetstream();
      if (j) js_ = std::move(j.value());
    }
    auto info = js_ ? bus::stream_info(js_.raw(), shared_.stream)
                    : bus::Result<bus::StreamState>(bus::Status::error("no JetStream"));
    stream_read_ = std::chrono::steady_clock::now();
    // Unknown (the server away): publishing finds out and retries, as without admission.
    if (!info || info->bytes + bytes <= share || info->messages == 0) {
      stream_bytes_ = (info ? info->bytes : 0) + bytes;
      if (held_back_) {
        spdlog::info("{} the stream has room again: reading on", prefix_);
        shared_.counters[component_].clear_failing();
        held_back_ = false;
      }
      return true;
    }
    // What this input has in flight must be settled before it waits: until then its position
    // log holds the janitor back (positions.hpp), and the stream could never drain.
    settle_inflight();
    if (!held_back_) {
      const auto pct = 100 * info->bytes / std::max<std::uint64_t>(1, s.max_bytes.bytes);
      const auto why = "held back: the flow's stream is " + std::to_string(pct) + "% full (inputs stop at " +
                       std::to_string(100 * share / s.max_bytes.bytes) +
                       "% so the stages behind them keep room); waiting for them to catch up";
      hold_back(why);
      held_back_ = true;
    }
    idle(stop_, 100ms);
    if (stop_.stopping()) return false;
  }
}

bool InputStage::replay_at(const sdk::Position& at, std::function<void()>& on_durable) {
  if (!accepted(at.source, at.seq) && !log_->covers_any(at.source, at.seq)) return false;
  replayed(1, std::move(on_durable));
  return true;
}

bool InputStage::push_at(const sdk::Position& at, sdk::Record&& rec, std::function<void()> on_durable) {
  if (stopping()) return false;
  if (replay_at(at, on_durable)) return true;
  add(0, std::move(rec), std::move(on_durable), &at);
  return true;
}

bool InputStage::push_json_at(const sdk::Position& at, std::string_view json,
                              std::function<void()> on_durable) {
  if (stopping()) return false;
  if (replay_at(at, on_durable)) return true;
  const auto& route = stage_.members.front().ports[0];
  // As push_json(): the common case goes into the batch as it came, without a parse.
  if (route.publish && !route.dead_letter && !shared_.taps->active(component_)) {
    const std::string id = std::string(at.source) + ":" + std::to_string(at.seq);
    if (!open_[0].empty() && open_at_[0].source != at.source) publish_pending();
    auto added = open_[0].add_raw(id, json, shared_.max_body);
    if (added == BatchWriter::Added::full) {
      publish_pending();
      added = open_[0].add_raw(id, json, shared_.max_body);
    }
    if (added == BatchWriter::Added::added) {
      note_position(0, at);
      shared_.counters[component_].count_out(0);
      if (on_durable) pending_callbacks_.push_back(std::move(on_durable));
      if (batch_due(0)) publish_pending();
      return true;
    }
  }
  // accepted() took the position already: the parsed way must not take it for a replay.
  thread_local sdk::RecordParser parser;
  boost::json::value value;
  std::string reason;
  std::string id = std::string(at.source) + ":" + std::to_string(at.seq);
  if (parser.parse(json, value, reason)) {
    add(0, sdk::Record{std::move(id), std::move(value)}, std::move(on_durable), &at);
    return true;
  }
  fail_record(sdk::Record{std::move(id), sdk::raw_record_value(json, reason)}, reason, std::move(on_durable),
              &at);
  return true;
}

bool InputStage::fail_at(const sdk::Position& at, sdk::Record&& rec, std::string_view reason,
                         std::function<void()> on_durable) {
  if (stopping()) return false;
  if (replay_at(at, on_durable)) return true;
  fail_record(std::move(rec), reason, std::move(on_durable), &at);
  return true;
}

void InputStage::note_position(std::size_t port, const sdk::Position& at) {
  auto& o = open_at_[port];
  if (open_[port].count() == 1) {
    o.source.assign(at.source);
    o.lo = at.seq;
  }
  o.hi = at.seq;
}

bool InputStage::accepted(std::string_view source, std::uint64_t pos) {
  // A source delivers in position order within a run, but after a broker restart one fetch can
  // hand out a message twice (the old server's delivery still queued in the client, then the
  // new server's redelivery): the first copy may still be in the open batch, not yet stored.
  if (source != last_source_) {
    last_source_.assign(source);
    last_high_ = &accepted_[last_source_];
  }
  if (pos <= *last_high_) return true;
  *last_high_ = pos;
  return false;
}

void InputStage::replayed(std::size_t records, std::function<void()>&& on_durable) {
  shared_.counters[component_].replays += records;
  if (on_durable) pending_callbacks_.push_back(std::move(on_durable));
}

bool InputStage::sleep_for(std::chrono::nanoseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stopping()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(until - now, std::chrono::milliseconds(50)));
  }
  return false;
}

bool InputStage::push(sdk::Record&& rec, std::function<void()> on_durable) {
  if (stopping()) return false;
  add(0, std::move(rec), std::move(on_durable));
  return true;
}

bool InputStage::push_json(std::string_view json, std::function<void()> on_durable) {
  if (stopping()) return false;
  const auto& route = stage_.members.front().ports[0];
  // The common case goes into the batch as it came. A dead-lettered or tapped port, and a record
  // no message can carry, take the parsed way (sdk::InputSink::push_json, then push()).
  if (route.publish && !route.dead_letter && !shared_.taps->active(component_)) {
    const auto id = record_id(seq_);
    auto added = open_[0].add_raw(id, json, shared_.max_body);
    if (added == BatchWriter::Added::full) {
      publish_pending();
      added = open_[0].add_raw(id, json, shared_.max_body);
    }
    if (added == BatchWriter::Added::added) {
      ++seq_;
      shared_.counters[component_].count_out(0);
      if (on_durable) pending_callbacks_.push_back(std::move(on_durable));
      if (batch_due(0)) publish_pending();
      return true;
    }
  }
  return sdk::InputSink::push_json(json, std::move(on_durable));
}

bool InputStage::fail(sdk::Record&& rec, std::string_view reason, std::function<void()> on_durable) {
  if (stopping()) return false;
  fail_record(std::move(rec), reason, std::move(on_durable), nullptr);
  return true;
}

void InputStage::fail_record(sdk::Record&& rec, std::string_view reason, std::function<void()>&& on_durable,
                             const sdk::Position* at) {
  shared_.counters[component_].errors++;
  // The reason first: add() may publish the dead-letter batch this record fills.
  if (stage_.members.front().ports.back().dead_letter && dead_reason_.empty()) dead_reason_ = reason;
  auto err = error_record(shared_, component_, std::move(rec), reason);
  add(open_.size() - 1, std::move(err), std::move(on_durable), at);
}

bool InputStage::push_batch(sdk::Batch&& batch, std::function<void()> on_durable) {
  if (stopping()) return false;
  if (!batch.source.empty() &&
      (accepted(batch.source, batch.position) || log_->covers_any(batch.source, batch.position))) {
    replayed(batch.records, std::move(on_durable));
    return true;
  }
  // What is batched already goes first, so the port keeps the order records arrived in.
  publish_pending();
  if (!admit(batch.body.size())) return false;
  const auto& decl = shared_.flow.components[component_];
  const auto& port = stage_.members.front().ports[0];
  shared_.counters[component_].count_out(0, batch.records);
  offer_to_taps(batch.body);
  if (port.publish) {
    std::string position;
    if (!batch.source.empty())
      position = log_->publishing(subject_index_[0], batch.source, batch.position, batch.position);
    const auto id = derive_id(batch.id, decl.id, decl.info->outputs[0].name);
    if (batch.body.size() <= shared_.max_body) {
      auto st = publish_batch(*pub_, port.subject, batch.body, batch.records, id, position);
      if (!st.ok()) spdlog::debug("{} publish: {}", prefix_, st.text());  // retried in settle()
      ++inflight_batches_;
    } else {
      publish_split(batch.body, id, position);
    }
  }
  if (on_durable) inflight_callbacks_.push_back(std::move(on_durable));
  if (inflight_batches_ >= static_cast<std::size_t>(shared_.flow.settings.publish_window)) settle_inflight();
  return true;
}

void InputStage::publish_split(std::string_view body, const std::string& id, const std::string& position) {
  // A batch received whole (a bridge frame may be larger than a message here): published in
  // pieces at line boundaries, with ids derived from the batch's, so that a batch sent again
  // after a crash makes the same pieces. The position goes with the last piece: until it is
  // stored, the batch counts as not stored, and its pieces stored before are dropped as
  // duplicates when it comes again. A line that no message could carry goes to the error port.
  const auto& subject = stage_.members.front().ports[0].subject;
  std::size_t piece = 0, start = 0, lines = 0, pos = 0;
  auto publish = [&](std::size_t end, bool last) {
    // The last piece is published even when empty (a batch ending in a line too large for any
    // message): it carries the position.
    if (end > start || last) {
      auto st = publish_batch(*pub_, subject, body.substr(start, end - start), lines,
                              id + "#" + std::to_string(piece++), last ? position : std::string());
      if (!st.ok()) spdlog::debug("{} publish: {}", prefix_, st.text());  // retried in settle()
      ++inflight_batches_;
    }
    start = end;
    lines = 0;
  };
  while (pos < body.size()) {
    auto end = body.find('\n', pos);
    end = end == std::string_view::npos ? body.size() : end + 1;
    if (end - pos > shared_.max_body) {
      publish(pos, false);
      auto line = body.substr(pos, end - pos);
      if (line.back() == '\n') line.remove_suffix(1);
      const auto space = line.find(' ');
      const auto json = space == std::string_view::npos ? line : line.substr(space + 1);
      std::string reason;
      auto err = oversize_error_record(
          shared_, component_, std::string(line.substr(0, space == std::string_view::npos ? 0 : space)), json,
          reason);
      shared_.counters[component_].errors++;
      add(open_.size() - 1, std::move(err), {});  // fits: the value is cut
      publish_pending();
      start = end;
    } else {
      if (end - start > shared_.max_body) publish(pos, false);
      ++lines;
    }
    pos = end;
  }
  publish(body.size(), true);
}

void InputStage::offer_to_taps(std::string_view body) {
  if (!shared_.taps->active(component_)) return;
  // The flow passes a received batch on whole; only a tap needs its records. Taps are sampled
  // anyway, so at most ten batches a second are decoded for them, whatever the rate.
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  if (now - last_tap_decode_ns_ < 100'000'000) return;
  last_tap_decode_ns_ = now;
  std::vector<sdk::Record> records;
  std::string error;
  if (!tap_reader_.decode(body, records, error)) return;
  for (const auto& r : records) shared_.taps->offer(component_, 0, r);
}

void InputStage::add(std::size_t port, sdk::Record&& rec, std::function<void()>&& on_durable,
                     const sdk::Position* at) {
  if (rec.id.empty()) rec.id = record_id(seq_++);
  const auto& route = stage_.members.front().ports[port];
  const std::size_t error_port = open_.size() - 1;
  if (route.publish) {
    auto& o = open_at_[port];
    // One source per batch, so that one header tells what the batch holds.
    if (at != nullptr && !open_[port].empty() && o.source != at->source) publish_pending();
    auto added = open_[port].add(rec, shared_.max_body);
    if (added == BatchWriter::Added::full) {
      publish_pending();
      added = open_[port].add(rec, shared_.max_body);
    }
    if (added == BatchWriter::Added::too_large) {
      // No message could carry it (or no reader would take it): to the error port, kept as its
      // head with its size, instead of a publish the server refuses for ever.
      too_large(port, std::move(rec), std::move(on_durable), at);
      return;
    }
    if (at != nullptr) note_position(port, *at);
  }
  if (route.dead_letter && dead_.add(rec, shared_.max_body) != BatchWriter::Added::added) {
    publish_pending();
    // Only a record in no port batch can be too large here: one that fit there fits the same bound.
    if (dead_.add(rec, shared_.max_body) == BatchWriter::Added::too_large) {
      too_large(port, std::move(rec), std::move(on_durable), at);
      return;
    }
  }
  if (port < error_port) shared_.counters[component_].count_out(port);
  shared_.taps->offer(component_, port, rec);
  if (on_durable) pending_callbacks_.push_back(std::move(on_durable));
  if (batch_due(port)) publish_pending();
}

std::string InputStage::record_id(std::uint64_t seq) const {
  return shared_.flow.components[component_].id + ":" + boot_ + ":" + std::to_string(seq);
}

bool InputStage::batch_due(std::size_t port) const {
  const auto& s = shared_.flow.settings;
  const auto limit = static_cast<std::size_t>(s.batch_records);
  return open_[port].count() >= limit || open_[port].bytes() >= s.batch_bytes.bytes || dead_.count() >= limit;
}

void InputStage::too_large(std::size_t port, sdk::Record&& rec, std::function<void()>&& on_durable,
                           const sdk::Position* at) {
  const std::size_t error_port = open_.size() - 1;
  if (port == error_port) {
    if (!cut_error_record(rec, shared_.max_body)) {
      spdlog::error("{} an error record of {} bytes is dropped: even cut, no message can carry it (limit {})",
                    prefix_, sdk::to_json(rec.value).size(), shared_.max_body);
      if (on_durable) pending_callbacks_.push_back(std::move(on_durable));
      return;
    }
  } else {
    std::string reason;
    rec = oversize_error_record(shared_, component_, std::move(rec), reason);
    shared_.counters[component_].errors++;
    if (stage_.members.front().ports.back().dead_letter && dead_reason_.empty()) dead_reason_ = reason;
  }
  add(error_port, std::move(rec), std::move(on_durable), at);
}

void InputStage::publish_pending() {
  const auto& id = shared_.flow.components[component_].id;
  const auto& ports = stage_.members.front().ports;
  const auto& info = *shared_.flow.components[component_].info;
  for (std::size_t p = 0; p < open_.size(); ++p) {
    if (open_[p].empty()) continue;
    if (!admit(open_[p].bytes())) {
      // Stopping while held back: nothing of it is published or confirmed; the source sends
      // it again.
      open_[p].clear();
      open_at_[p].source.clear();
      pending_callbacks_.clear();
      continue;
    }
    std::string position;
    if (!open_at_[p].source.empty()) {
      position = log_->publishing(subject_index_[p], open_at_[p].source, open_at_[p].lo, open_at_[p].hi);
      open_at_[p].source.clear();
    }
    auto st = publish_batch(*pub_, ports[p].subject, open_[p], batch_id(id, info.outputs[p].name, open_[p]),
                            {}, {}, {}, position);
    if (!st.ok()) spdlog::debug("{} publish: {}", prefix_, st.text());  // retried in settle()
    open_[p].clear();
    ++inflight_batches_;
  }
  if (!dead_.empty()) {
    shared_.counters[component_].dead_letters += dead_.count();
    auto st = publish_batch(*pub_, shared_.dlq_subject, dead_, batch_id(id, "dead", dead_), dead_reason_, id);
    if (!st.ok()) spdlog::debug("{} dead letter publish: {}", prefix_, st.text());
    dead_.clear();
    dead_reason_.clear();
    ++inflight_batches_;
  }
  for (auto& cb : pending_callbacks_) inflight_callbacks_.push_back(std::move(cb));
  pending_callbacks_.clear();
  if (inflight_batches_ >= static_cast<std::size_t>(shared_.flow.settings.publish_window)) settle_inflight();
}

void InputStage::settle_inflight() {
  if (inflight_batches_ == 0 && inflight_callbacks_.empty()) return;
  if (!settle(stop_, *pub_, prefix_)) {
    // Not acknowledged: the source is not acked either and redelivers. The positions are not
    // claimed either, or a later settle (flush() after the input's run) would take them for stored.
    log_->abandon();
    inflight_callbacks_.clear();
    inflight_batches_ = 0;
    return;
  }
  log_->settled(pub_->last_acked_seq());
  if (commit_) {
    commit_->submit(std::move(inflight_callbacks_), pub_->last_acked_seq());
  } else {
    for (auto& cb : inflight_callbacks_) cb();
  }
  inflight_callbacks_.clear();
  inflight_batches_ = 0;
}

sdk::Status InputStage::set_durability(sdk::Durability d) {
  if (d == sdk::Durability::stored) {
    commit_ = nullptr;
    return sdk::Status::ok();
  }
  std::string error;
  commit_ = shared_.group_commit(error);
  if (!commit_) return sdk::Status::error(error);
  shared_.sync_gate = true;
  spdlog::info(
      "{} acknowledges only what is on disk: the stream's files are fsynced before each acknowledgement",
      prefix_);
  return sdk::Status::ok();
}

void InputStage::flush() {
  if (!pub_) return;
  publish_pending();
  settle_inflight();
}

}  // namespace weir::runtime
