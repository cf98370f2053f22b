#include "runtime/state_keeper.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "bus/stream_messages.hpp"
#include "graph/plan.hpp"

namespace weir::runtime {

namespace {
// A part stays well under nats-server's default max_payload (1 MiB) with room for headers.
constexpr std::size_t part_bytes = 512 * 1024;
// Held batches wait at most this long for the snapshot that lets them be acked, and at most
// this many are held (the flow's consumers allow 1,000 unacked messages).
constexpr auto snapshot_every = std::chrono::seconds(1);
constexpr std::size_t max_held = 256;
constexpr const char* snapshot_header = "Weir-Snapshot";
}  // namespace

std::string encode_manifest(const SnapshotManifest& m) {
  boost::json::object applied;
  for (const auto& [source, seq] : m.applied) applied[source] = seq;
  boost::json::object o{{"number", m.number}, {"slot", m.slot}, {"parts", m.parts},
                        {"bytes", m.bytes},   {"type", m.type}, {"applied", std::move(applied)}};
  return boost::json::serialize(o);
}

bool decode_manifest(std::string_view text, SnapshotManifest& m) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return false;
  const auto& o = v.as_object();
  try {
    m.number = boost::json::value_to<std::uint64_t>(o.at("number"));
    m.slot = boost::json::value_to<int>(o.at("slot"));
    m.parts = boost::json::value_to<std::size_t>(o.at("parts"));
    m.bytes = boost::json::value_to<std::size_t>(o.at("bytes"));
    m.type = boost::json::value_to<std::string>(o.at("type"));
    m.applied.clear();
    for (const auto& [k, seq] : o.at("applied").as_object())
      m.applied[std::string(k)] = boost::json::value_to<std::uint64_t>(seq);
  } catch (const std::exception&) {
    return false;
  }
  return m.slot == 0 || m.slot == 1;
}

sdk::Millis StageClock::wall() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StateKeeper::StateKeeper(FlowShared& shared, std::size_t component, sdk::StatefulProcessor& proc)
    : shared_(shared), component_(component), proc_(proc), prefix_(shared.prefix(component)) {}

std::string StateKeeper::manifest_subject() const {
  return graph::positions_subject(shared_.flow.name, "_state." + shared_.flow.components[component_].id);
}

std::string StateKeeper::subject(int slot, std::size_t part) const {
  return manifest_subject() + "." + (slot == 0 ? "a" : "b") + "." + std::to_string(part);
}

bus::Status StateKeeper::restore(jsCtx* js) {
  const auto stream = graph::positions_stream(shared_.flow.name);
  auto last = bus::get_last_msg(js, stream, manifest_subject());
  if (!last) {
    if (last.status().is_not_found()) return bus::Status::success();  // never saved: starts empty
    return last.status();
  }
  SnapshotManifest m;
  if (!decode_manifest(last->data, m)) {
    spdlog::warn("{} its state manifest does not decode: it starts with empty state", prefix_);
    return bus::Status::success();
  }
  // Whatever becomes of the state, the batches it covered were acked or are held for a skip.
  number_ = m.number;
  slot_ = m.slot;
  applied_.clear();
  for (auto& [k, v] : m.applied) applied_.emplace(k, v);
  std::string saved;
  saved.reserve(m.bytes);
  const auto number = std::to_string(m.number);
  for (std::size_t i = 0; i < m.parts; ++i) {
    auto part = bus::get_last_msg(js, stream, subject(m.slot, i));
    if (!part) {
      if (!part.status().is_not_found()) return part.status();
      spdlog::error("{} part {} of its state snapshot {} is missing: it starts with empty state", prefix_, i,
                    m.number);
      return bus::Status::success();
    }
    if (part->header(snapshot_header) != std::optional<std::string_view>(number)) {
      spdlog::error(
          "{} part {} of its state snapshot {} belongs to another snapshot: it starts with empty state",
          prefix_, i, m.number);
      return bus::Status::success();
    }
    saved += part->data;
  }
  const auto& type = shared_.flow.components[component_].type;
  if (m.type != type) {
    spdlog::warn("{} its stored state is a {}'s, not a {}'s: it starts with empty state", prefix_, m.type,
                 type);
    return bus::Status::success();
  }
  auto st = proc_.load(saved);
  if (!st) {
    spdlog::warn("{} its stored state does not fit its configuration ({}): it starts with empty state",
                 prefix_, st.error());
    return bus::Status::success();
  }
  last_bytes_ = saved.size();
  spdlog::info("{} state restored: snapshot {}, {} bytes", prefix_, m.number, saved.size());
  return bus::Status::success();
}

bool StateKeeper::applied(std::string_view source, std::uint64_t seq) const {
  auto it = applied_.find(source);
  return it != applied_.end() && seq != 0 && seq <= it->second;
}

void StateKeeper::mark(std::string_view source, std::uint64_t seq) {
  auto it = applied_.find(source);
  if (it == applied_.end())
    applied_.emplace(std::string(source), seq);
  else
    it->second = std::max(it->second, seq);
  dirty_ = true;
}

void StateKeeper::hold(std::vector<bus::Msg>&& msgs) {
  if (msgs.empty()) return;
  if (held_.empty()) last_alive_ = std::chrono::steady_clock::now();
  for (auto& m : msgs) held_.push_back(std::move(m));
}

bool StateKeeper::due() const {
  if (held_.empty() && !dirty_) return false;
  return held_.size() >= max_held || std::chrono::steady_clock::now() - last_snapshot_ >= snapshot_every;
}

void StateKeeper::keep_alive() {
  const auto now = std::chrono::steady_clock::now();
  if (held_.empty() || now - last_alive_ < shared_.flow.settings.ack_wait / 3) return;
  for (auto& m : held_) (void)m.in_progress();
  last_alive_ = now;
}

bus::Status StateKeeper::snapshot(bus::AsyncPublisher& pub) {
  if (dirty_) {
    const auto started = std::chrono::steady_clock::now();
    std::string saved;
    proc_.save(saved);
    SnapshotManifest m;
    m.number = number_ + 1;
    m.slot = 1 - slot_;
    m.bytes = saved.size();
    m.type = shared_.flow.components[component_].type;
    for (const auto& [k, v] : applied_) m.applied.emplace(k, v);
    const auto number = std::to_string(m.number);
    const bus::Header header{snapshot_header, number};
    for (std::size_t off = 0; off < saved.size() || m.parts == 0; off += part_bytes) {
      auto piece = std::string_view(saved).substr(off, part_bytes);
      auto ack = pub.publish_sync(subject(m.slot, m.parts), piece, {}, std::span(&header, 1));
      if (!ack) {
        if (!failing_) spdlog::warn("{} cannot store its state: {}", prefix_, ack.status().text());
        failing_ = true;
        return ack.status();
      }
      ++m.parts;
      if (saved.empty()) break;
    }
    auto ack = pub.publish_sync(manifest_subject(), encode_manifest(m));
    if (!ack) {
      if (!failing_) spdlog::warn("{} cannot store its state: {}", prefix_, ack.status().text());
      failing_ = true;
      return ack.status();
    }
    if (failing_) spdlog::info("{} storing its state again", prefix_);
    failing_ = false;
    number_ = m.number;
    slot_ = m.slot;
    last_bytes_ = saved.size();
    dirty_ = false;
    auto& c = shared_.counters[component_];
    c.snapshots++;
    c.snapshot_bytes = saved.size();
    c.snapshot_us += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
            .count());
  }
  last_snapshot_ = std::chrono::steady_clock::now();
  shared_.ack_when_on_disk(std::move(held_), prefix_);
  held_.clear();
  return bus::Status::success();
}

}  // namespace weir::runtime
