#include "runtime/positions.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "bus/stream_messages.hpp"
#include "graph/plan.hpp"

namespace weir::runtime {

namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits on single spaces.
std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto end = s.find(' ', pos);
    if (end == std::string_view::npos) end = s.size();
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

bool SourceMark::covers(std::uint64_t pos) const {
  if (pos <= high) return true;
  for (const auto& [lo, hi] : ranges)
    if (pos >= lo && pos <= hi) return true;
  return false;
}

void SourceMark::add(std::uint64_t lo, std::uint64_t hi, bool in_order) {
  if (in_order) {
    // Everything up to hi was handled: ranges below it say nothing more.
    high = std::max(high, hi);
    std::erase_if(ranges, [&](const auto& r) { return r.second <= high; });
    return;
  }
  if (hi <= high) return;
  ranges.emplace_back(std::max(lo, high + 1), hi);
}

std::string position_value(std::string_view key, std::uint64_t lo, std::uint64_t hi) {
  std::string out(key);
  out += ' ';
  out += std::to_string(lo);
  out += ' ';
  out += std::to_string(hi);
  return out;
}

bool parse_position(std::string_view value, std::string& key, std::uint64_t& lo, std::uint64_t& hi) {
  auto w = words(value);
  if (w.size() != 3 || !parse_u64(w[1], lo) || !parse_u64(w[2], hi) || lo > hi) return false;
  key.assign(w[0]);
  return true;
}

std::string encode_checkpoint(std::uint64_t through, const MarkMap& marks) {
  std::string out = "through " + std::to_string(through) + "\n";
  for (const auto& [sk, m] : marks) {
    out += sk.first + " " + sk.second + " " + std::to_string(m.high);
    for (const auto& [lo, hi] : m.ranges) out += " " + std::to_string(lo) + "-" + std::to_string(hi);
    out += '\n';
  }
  return out;
}

bool decode_checkpoint(std::string_view body, std::uint64_t& through, MarkMap& marks) {
  std::size_t pos = 0;
  bool first = true;
  while (pos < body.size()) {
    auto end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    auto line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    auto w = words(line);
    if (first) {
      if (w.size() != 2 || w[0] != "through" || !parse_u64(w[1], through)) return false;
      first = false;
      continue;
    }
    if (w.size() < 3) return false;
    SourceMark m;
    if (!parse_u64(w[2], m.high)) return false;
    for (std::size_t i = 3; i < w.size(); ++i) {
      auto dash = w[i].find('-');
      std::uint64_t lo = 0, hi = 0;
      if (dash == std::string_view::npos || !parse_u64(w[i].substr(0, dash), lo) ||
          !parse_u64(w[i].substr(dash + 1), hi) || lo > hi)
        return false;
      m.ranges.emplace_back(lo, hi);
    }
    marks[{std::string(w[0]), std::string(w[1])}] = std::move(m);
  }
  return !first;
}

PositionLog::PositionLog(std::string flow, std::string stream, std::string name,
                         std::vector<std::string> subjects)
    : flow_(std::move(flow)),
      stream_(std::move(stream)),
      name_(std::move(name)),
      subjects_(std::move(subjects)) {}

std::string PositionLog::checkpoint_subject() const {
  return graph::positions_subject(flow_, name_);
}

bus::Status PositionLog::recover(jsCtx* js) {
  MarkMap marks;
  std::uint64_t through = 0;
  auto ckpt = bus::get_last_msg(js, graph::positions_stream(flow_), checkpoint_subject());
  if (ckpt) {
    if (!decode_checkpoint(ckpt->data, through, marks))
      return bus::Status::error("checkpoint " + checkpoint_subject() + " does not decode");
  } else if (!ckpt.status().is_not_found()) {
    return ckpt.status();
  }
  // What this publisher stored after its checkpoint: the janitor kept it (hold()).
  std::uint64_t last = through;
  std::size_t found = 0;
  for (const auto& subject : subjects_) {
    std::uint64_t from = through + 1;
    for (;;) {
      auto m = bus::get_next_msg(js, stream_, subject, from);
      if (!m) {
        if (m.status().is_not_found()) break;
        return m.status();
      }
      from = m->seq + 1;
      last = std::max(last, m->seq);
      auto h = m->header(position_header);
      std::string key;
      std::uint64_t lo = 0, hi = 0;
      if (!h || !parse_position(*h, key, lo, hi)) continue;
      if (!key_filter_.empty() && key != key_filter_) continue;
      marks[{subject, key}].add(lo, hi, false);
      ++found;
    }
  }
  std::lock_guard lock(mu_);
  settled_ = std::move(marks);
  cached_marks_.clear();
  covered_ = through;
  settled_through_ = last;
  dirty_ = last > through;
  recovered_ = true;
  if (found > 0)
    spdlog::debug("[{}] {}: {} batches stored after its checkpoint (through {})", flow_, name_, found,
                  through);
  return bus::Status::success();
}

bool PositionLog::covers(std::size_t subject, std::string_view key, std::uint64_t pos) const {
  std::lock_guard lock(mu_);
  // Published and not yet acknowledged counts too: after a broker restart one fetch can hand
  // out a message twice (the old server's delivery still queued, then its redelivery).
  for (const auto& [s, k, lo, hi] : pending_)
    if (s == subject && pos >= lo && pos <= hi && k == key) return true;
  auto it = settled_.find({subjects_[subject], std::string(key)});
  return it != settled_.end() && it->second.covers(pos);
}

bool PositionLog::covers_any(std::string_view key, std::uint64_t pos) const {
  std::lock_guard lock(mu_);
  // Called per record: the marks of the last key asked for are kept at hand (map nodes are
  // stable; forget() drops them when it erases one), so the common case builds no string.
  if (key != cached_key_ || cached_marks_.size() != subjects_.size()) {
    cached_key_.assign(key);
    cached_marks_.clear();
    for (const auto& subject : subjects_) {
      auto it = settled_.find({subject, cached_key_});
      cached_marks_.push_back(it != settled_.end() ? &it->second : nullptr);
    }
  }
  for (const auto* m : cached_marks_)
    if (m != nullptr && m->covers(pos)) return true;
  return false;
}

std::string PositionLog::publishing(std::size_t subject, std::string_view key, std::uint64_t lo,
                                    std::uint64_t hi) {
  std::lock_guard lock(mu_);
  pending_.emplace_back(subject, std::string(key), lo, hi);
  unsettled_ = true;
  return position_value(key, lo, hi);
}

void PositionLog::settled(std::uint64_t last_seq) {
  std::lock_guard lock(mu_);
  for (auto& [subject, key, lo, hi] : pending_) {
    auto [it, fresh] = settled_.try_emplace({subjects_[subject], std::move(key)});
    it->second.add(lo, hi, !gapped_);  // after a gap, what follows is a range, not "all up to hi"
    if (fresh) cached_marks_.clear();  // a new mark: covers_any() looks again
  }
  if (!pending_.empty()) dirty_ = true;
  pending_.clear();
  settled_through_ = std::max(settled_through_, last_seq);
  unsettled_ = false;
}

void PositionLog::forget(std::string_view key) {
  std::lock_guard lock(mu_);
  bool erased = false;
  for (auto it = settled_.begin(); it != settled_.end();) {
    if (it->first.second == key) {
      it = settled_.erase(it);
      erased = true;
    } else {
      ++it;
    }
  }
  if (!erased) return;
  cached_key_.clear();
  cached_marks_.clear();
  dirty_ = true;
}

void PositionLog::abandon() {
  std::lock_guard lock(mu_);
  pending_.clear();
  gapped_ = true;
  // Some of those publishes may be stored all the same (a PubAck lost, or the rest of a window
  // one publish of failed): checkpoints say no more than what the last settle knew, so that the
  // next run reads their headers (and the janitor keeps them until then, hold()).
  through_cap_ = std::min(through_cap_, settled_through_);
}

bus::Status PositionLog::checkpoint(bus::AsyncPublisher& pub) {
  std::string body;
  std::uint64_t through = 0;
  {
    std::lock_guard lock(mu_);
    if (!recovered_ || !dirty_) return bus::Status::success();
    through = std::min(settled_through_, through_cap_);
    body = encode_checkpoint(through, settled_);
    dirty_ = false;
  }
  auto ack = pub.publish_sync(checkpoint_subject(), body);
  std::lock_guard lock(mu_);
  if (!ack) {
    dirty_ = true;
    return ack.status();
  }
  covered_ = std::max(covered_, through);
  return bus::Status::success();
}

std::uint64_t PositionLog::hold() const {
  std::lock_guard lock(mu_);
  if (!recovered_) return 1;
  if (unsettled_ || settled_through_ > covered_) return covered_ + 1;
  return 0;
}

void PositionRegistry::add(PositionLog* log) {
  std::lock_guard lock(mu_);
  logs_.push_back(log);
}

void PositionRegistry::remove(PositionLog* log) {
  std::lock_guard lock(mu_);
  std::erase(logs_, log);
}

std::uint64_t PositionRegistry::checkpoint_all(bus::AsyncPublisher& pub) {
  std::lock_guard lock(mu_);
  std::uint64_t hold = 0;
  for (auto* log : logs_) {
    auto st = log->checkpoint(pub);
    if (!st.ok()) spdlog::debug("positions {}: {}", log->name(), st.text());
    const auto h = log->hold();
    if (h != 0) hold = hold == 0 ? h : std::min(hold, h);
  }
  return hold;
}

}  // namespace weir::runtime
