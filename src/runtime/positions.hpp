// Exact replay detection, independent of JetStream's duplicate window.
//
// Every publisher in a flow (an input stage, or one upstream thread of a consumer stage) knows
// where what it publishes came from: a source key (a nats_input's stream and consumer, a bridge
// sender, the upstream consumer of a stage) and a position in that source (a stream sequence).
// Per source, positions reach a publisher in increasing order (ConsumerStage and nats_input wait
// for the redeliveries of a crashed run before they read anything new, and gather and sort them:
// nats-server hands them out in no particular order; bus::InOrder), so what a publisher has
// stored is described by one high-water mark per (subject, source): bounded by the number of
// sources, not of records.
//
// Where that state lives, so that it survives crashes, broker restarts and the janitor's purges
// and is seen by every engine that shares the flow:
// - every data message carries its own positions in a `Weir-Pos` header ("<key> <lo> <hi>");
// - a checkpoint per publisher (the highs, and the stream sequence `through` up to which they
//   cover the publisher's data) in the flow's positions stream `WEIR_POS_<FLOW>`, one message
//   per publisher subject (max_msgs_per_subject 1), written by the flow's janitor about once a
//   second from what the publisher settled;
// - the janitor never purges a publisher's data above its last stored checkpoint (hold()), so
//   recovery = the checkpoint + the `Weir-Pos` headers of the publisher's messages after it.
// A checkpoint costs one small publish per publisher per second; the data path pays a header
// and a map update per message.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <nats/nats.h>

#include "bus/publisher.hpp"
#include "bus/status.hpp"

namespace weir::runtime {

inline constexpr const char* position_header = "Weir-Pos";

// What one source has stored on one subject: every position up to `high`, and above it the
// ranges a recovery found stored (a crash can leave a later batch stored and an earlier one
// not: the async publishes of one window are not all-or-nothing).
struct SourceMark {
  std::uint64_t high = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // above high, from a recovery

  bool covers(std::uint64_t pos) const;
  // [lo, hi] is stored; with `in_order`, every position up to hi has been handled.
  void add(std::uint64_t lo, std::uint64_t hi, bool in_order);
};

// Text forms (tested): "<key> <lo> <hi>" in a header; a checkpoint body is
// "through <seq>\n" then one line "<subject> <key> <high>[ <lo>-<hi>]...\n" per mark.
std::string position_value(std::string_view key, std::uint64_t lo, std::uint64_t hi);
bool parse_position(std::string_view value, std::string& key, std::uint64_t& lo, std::uint64_t& hi);

using MarkMap = std::map<std::pair<std::string, std::string>, SourceMark>;  // (subject, key)
std::string encode_checkpoint(std::uint64_t through, const MarkMap& marks);
bool decode_checkpoint(std::string_view body, std::uint64_t& through, MarkMap& marks);

class PositionLog {
 public:
  // `name`: this publisher, stable across restarts and engines (a subject token).
  // `subjects`: the flow-stream subjects it publishes on.
  PositionLog(std::string flow, std::string stream, std::string name, std::vector<std::string> subjects);

  const std::string& name() const { return name_; }
  // Several publishers may share a subject (the upstream threads of one stage): each recovers
  // only the positions of its own source. Set before recover().
  void set_key_filter(std::string key) { key_filter_ = std::move(key); }
  const std::vector<std::string>& subjects() const { return subjects_; }

  // Reads the checkpoint and the `Weir-Pos` headers of this publisher's messages after it.
  // Until it succeeded, hold() keeps the janitor from purging anything.
  bus::Status recover(jsCtx* js);
  bool recovered() const { return recovered_.load(); }

  // Stored already (a replay)? `subject` indexes subjects().
  bool covers(std::size_t subject, std::string_view key, std::uint64_t pos) const;
  // Stored already on any subject (an input: each record goes to exactly one port).
  bool covers_any(std::string_view key, std::uint64_t pos) const;

  // The publisher is about to publish [lo, hi] of `key` on `subject`; returns the header value.
  std::string publishing(std::size_t subject, std::string_view key, std::uint64_t lo, std::uint64_t hi);
  // Everything published since the last call has its PubAck; `last_seq` is the publisher's
  // highest acknowledged sequence in the flow's stream.
  void settled(std::uint64_t last_seq);
  // What was published since the last settled() got no PubAck and will not be waited for (the
  // publisher gave up: stopping past the drain deadline). Its positions are not claimed, so the
  // source's redelivery is stored; hold() keeps holding what the stream may have of them.
  void abandon();
  // The source `key` ended for good: its marks go (from the next checkpoint on).
  void forget(std::string_view key);

  // The janitor's side. Writes a checkpoint when the settled state changed (one PubAck round
  // trip); then purging below hold() is safe for this publisher (0: no limit).
  bus::Status checkpoint(bus::AsyncPublisher& pub);
  std::uint64_t hold() const;

  std::string checkpoint_subject() const;

 private:
  const std::string flow_, stream_, name_;
  const std::vector<std::string> subjects_;
  std::string key_filter_;
  mutable std::mutex mu_;
  MarkMap settled_;                                      // what the checkpoint may say
  mutable std::string cached_key_;                       // covers_any()'s last key
  mutable std::vector<const SourceMark*> cached_marks_;  // its marks, by subject (null: none)
  std::vector<std::tuple<std::size_t, std::string, std::uint64_t, std::uint64_t>>
      pending_;                             // published, not settled
  std::uint64_t settled_through_ = 0;       // highest acknowledged data sequence
  std::uint64_t covered_ = 0;               // `through` of the last stored checkpoint
  bool dirty_ = false;                      // settled_ changed since the last checkpoint
  bool unsettled_ = false;                  // publishes without their PubAck yet
  bool gapped_ = false;                     // abandon() left a gap: later positions are ranges
  std::uint64_t through_cap_ = UINT64_MAX;  // a checkpoint's `through` after abandon()
  std::atomic<bool> recovered_{false};
};

// Every position log of a flow's running publishers, for its janitor. Stages register when they
// start and unregister when they end (a reload replaces stages while the janitor runs on).
class PositionRegistry {
 public:
  void add(PositionLog* log);
  void remove(PositionLog* log);
  // Checkpoints every log that changed; returns the lowest hold (0: none), or 1 (purge nothing)
  // while a log has not recovered or its checkpoint could not be written.
  std::uint64_t checkpoint_all(bus::AsyncPublisher& pub);

 private:
  std::mutex mu_;
  std::vector<PositionLog*> logs_;
};

}  // namespace weir::runtime
