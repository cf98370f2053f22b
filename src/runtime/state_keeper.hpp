// The durable state of one stateful processor (sdk/state.hpp), kept so that a SIGKILL at any
// moment loses nothing and counts nothing twice.
//
// - The stage handles its upstream batches in stream order and marks each one applied (per
//   source: the upstream consumer). It does not ack them yet: they are held.
// - Now and then (every second, or sooner when many batches are held) it takes a snapshot: the
//   component's save() and the applied positions, stored in the flow's positions stream
//   (`weir_pos.<flow>._state.<component>...`, one message per subject), and only then acks the
//   held batches.
// - After a crash the last snapshot is loaded; the batches it covers that come again (held, not
//   acked, when the engine died) are skipped; those after it are handled again from the restored
//   state. What they produced before the crash was stored with its positions (positions.hpp) and
//   is not stored twice: the same state and the same batches give the same results.
//
// A snapshot is written as parts (so that a large state fits any max_payload) into one of two
// slots, the one the last manifest does not name, then a manifest naming the slot: a crash in
// the middle leaves the previous snapshot whole. Every engine sharing the flow reads the same
// snapshot from the same stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bus/msg.hpp"
#include "bus/publisher.hpp"
#include "bus/status.hpp"
#include "runtime/flow_shared.hpp"
#include "sdk/state.hpp"

namespace weir::runtime {

// What a manifest says (tested: encode/decode round trip).
struct SnapshotManifest {
  std::uint64_t number = 0;  // 1, 2, ... per component
  int slot = 0;              // 0 or 1
  std::size_t parts = 0;
  std::size_t bytes = 0;
  std::string type;                              // the component's type
  std::map<std::string, std::uint64_t> applied;  // source -> highest batch position applied
};
std::string encode_manifest(const SnapshotManifest& m);
bool decode_manifest(std::string_view text, SnapshotManifest& m);

// The engine's side of sdk::Clock for a stateful stage: the stored time of the batch being
// handled, or the wall clock for advance().
class StageClock final : public sdk::Clock {
 public:
  sdk::Millis now() const override { return now_.load(std::memory_order_relaxed); }
  void set(sdk::Millis ms) { now_.store(ms, std::memory_order_relaxed); }
  static sdk::Millis wall();

 private:
  std::atomic<sdk::Millis> now_{0};
};

class StateKeeper {
 public:
  StateKeeper(FlowShared& shared, std::size_t component, sdk::StatefulProcessor& proc);

  // Reads the last snapshot and loads it into the component (none: it starts empty). An error
  // when the stream does not answer (retry); a snapshot that does not load is logged and the
  // component starts empty.
  bus::Status restore(jsCtx* js);

  // A batch at `seq` of `source` was applied before the last snapshot (it came again): skip it.
  bool applied(std::string_view source, std::uint64_t seq) const;
  void mark(std::string_view source, std::uint64_t seq);
  // The state changed without a batch (advance()): the next snapshot is due in its time.
  void touch() { dirty_ = true; }
  // Messages handled (applied or skipped): acked after the next snapshot.
  void hold(std::vector<bus::Msg>&& msgs);
  // A snapshot is due: held batches waited long enough, or there are many.
  bool due() const;
  // Saves the state, stores it (one PubAck per part and for the manifest) and acks the held
  // messages. On an error they stay held (tell JetStream they are in progress: keep_alive).
  bus::Status snapshot(bus::AsyncPublisher& pub);
  // Keeps held messages from being redelivered while snapshots fail.
  void keep_alive();
  std::size_t held() const { return held_.size(); }

  std::uint64_t snapshots() const { return number_; }
  std::size_t last_bytes() const { return last_bytes_; }

 private:
  std::string subject(int slot, std::size_t part) const;
  std::string manifest_subject() const;

  FlowShared& shared_;
  std::size_t component_;
  sdk::StatefulProcessor& proc_;
  std::string prefix_;
  std::map<std::string, std::uint64_t, std::less<>> applied_;
  std::vector<bus::Msg> held_;
  std::chrono::steady_clock::time_point last_snapshot_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_alive_{};
  std::uint64_t number_ = 0;
  int slot_ = 1;  // the slot of the last manifest; the next snapshot goes to the other
  std::size_t last_bytes_ = 0;
  bool dirty_ = false;  // applied changed since the last snapshot
  bool failing_ = false;
};

}  // namespace weir::runtime
