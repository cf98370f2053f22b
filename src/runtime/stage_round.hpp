// One fetch round of a consumer stage, in its own unit so the loop stays readable.
#pragma once

#include <mutex>

#include "bus/pull_consumer.hpp"
#include "runtime/flow_shared.hpp"
#include "sdk/state.hpp"

namespace weir::runtime {

class StateKeeper;
class StageClock;

// What a stage whose root is a stateful processor adds to its rounds (state_keeper.hpp).
struct StatefulRound {
  StateKeeper* keeper = nullptr;
  StageClock* clock = nullptr;
  // Where results keyed by a moment (TimedEmitter::emit_at) are recorded, under `key`.
  PositionLog* timed_log = nullptr;
  std::string key;
};

class StageRound {
 public:
  // `log` (may be null: nothing published) records what this round stores per port, keyed by
  // `source` (the upstream consumer) and the consumed batch's stream sequence.
  StageRound(FlowShared& shared, const StageStop& stop, const graph::Stage& stage, bus::AsyncPublisher& pub,
             std::mutex* serial, PositionLog* log = nullptr, std::string source = {},
             const StatefulRound* stateful = nullptr);

  // The subjects a stage publishes on (its members' consumed ports), in PositionLog order.
  static std::vector<std::string> published_subjects(const graph::Stage& stage);

  // Handles the fetched messages in order (retrying a failed write until it succeeds or the
  // stage stops) and acks them once everything they produced has a PubAck.
  void handle(std::vector<bus::Msg>& msgs);
  // A stateful root's advance(now): what it closes is published (and settled) at once.
  void tick(sdk::Millis now);

 private:
  class Emitter;
  bool handle_one(bus::Msg& msg);
  bool dead_letter_message(bus::Msg& msg, const std::string& in_id, const std::string& reason);
  void route(std::size_t member, std::size_t port, sdk::Record&& rec, std::string_view reason);
  void process(std::size_t member, sdk::Record&& rec);
  bool write_output(std::vector<sdk::Record>& records);
  void publish_chunk(std::size_t member, std::size_t port);
  void publish_dead(std::size_t member);
  void publish_outputs();
  void route_timed(std::size_t member, sdk::Millis at, std::size_t port, sdk::Record&& rec);
  void publish_timed(std::size_t port);
  void flush_timed();
  bool settle_logs();

  FlowShared& shared_;
  const StageStop& stop_;
  const graph::Stage& stage_;
  bus::AsyncPublisher& pub_;
  std::mutex* serial_;  // held around calls into components that are not stateless
  std::string prefix_;
  std::string current_in_id_;      // id of the batch being handled; what it produces derives from it
  std::string current_subject_;    // subject it was consumed from, for its dead letters' Weir-Subject
  std::uint64_t current_pos_ = 0;  // its sequence in the flow's stream
  PositionLog* log_;
  std::string source_;
  std::vector<std::vector<std::size_t>> subject_index_;  // [member][port]: index in the log's subjects
  bool failing_ = false;  // an output's last write failed (logged once per transition)
  BatchReader reader_;
  std::vector<sdk::Record> records_;
  std::vector<std::vector<BatchWriter>> out_;        // [member][port]
  std::vector<std::vector<std::size_t>> chunks_;     // [member][port]: chunks published for this batch
  std::vector<BatchWriter> dead_;                    // [member]
  std::vector<std::string> dead_reason_;             // [member]
  std::vector<std::size_t> dead_chunks_;             // [member]: dead-letter chunks published for this batch
  std::vector<std::vector<std::uint32_t>> emitted_;  // [member][port]: records emitted from the current input
  const StatefulRound* stateful_;
  sdk::Millis timed_at_ = 0;               // the moment the pending timed results belong to
  std::vector<BatchWriter> timed_out_;     // [port] of the root
  std::vector<std::size_t> timed_chunks_;  // [port]: chunks published for timed_at_
};

}  // namespace weir::runtime
