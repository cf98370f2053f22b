// Runs one input component: its run() on a thread of its own, its records formed into batches
// adaptively (full by count or bytes, or flushed as soon as nothing more is waiting) and
// published durably with a bounded window. A record's on_durable runs only after its batch's
// PubAck, which is when a source may ack its own upstream; with Durability::synced, only after
// an fsync of the stream's files that followed (group_commit.hpp).
#pragma once

#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "runtime/flow_shared.hpp"

namespace weir::runtime {

class InputStage final : public sdk::InputSink {
 public:
  InputStage(FlowShared& shared, const graph::Stage& stage);
  ~InputStage() override;

  void start();
  // This stage alone stops: the input's run() sees stopping() and returns, what it handed over
  // is still published (until `drain` has passed). join() waits for the end.
  void request_stop(std::chrono::milliseconds drain) { stop_.request(drain); }
  void join();
  const graph::Stage& stage() const { return stage_; }

  bool push(sdk::Record&& rec, std::function<void()> on_durable) override;
  bool push_at(const sdk::Position& at, sdk::Record&& rec, std::function<void()> on_durable) override;
  bool fail(sdk::Record&& rec, std::string_view reason, std::function<void()> on_durable) override;
  bool push_json(std::string_view json, std::function<void()> on_durable) override;
  bool push_json_at(const sdk::Position& at, std::string_view json,
                    std::function<void()> on_durable) override;
  bool fail_at(const sdk::Position& at, sdk::Record&& rec, std::string_view reason,
               std::function<void()> on_durable) override;
  bool push_batch(sdk::Batch&& batch, std::function<void()> on_durable) override;
  void flush() override;
  bool stopping() const override { return stop_.stopping(); }
  sdk::Status set_durability(sdk::Durability d) override;
  bool sleep_for(std::chrono::nanoseconds d) override;

 private:
  void run();
  void add(std::size_t port, sdk::Record&& rec, std::function<void()>&& on_durable,
           const sdk::Position* at = nullptr);
  // An error record for `rec` to the error port (with its position, when given).
  void fail_record(sdk::Record&& rec, std::string_view reason, std::function<void()>&& on_durable,
                   const sdk::Position* at);
  // The open batch of `port` took a record at `at`: notes the batch's positions.
  void note_position(std::size_t port, const sdk::Position& at);
  // Whether a record at `at` is a replay; then its callback is queued and it counts as one.
  bool replay_at(const sdk::Position& at, std::function<void()>& on_durable);
  // A record add() could not put in any message: to the error port as an error record keeping
  // its head (an error record that is too large keeps the head of its `record`).
  void publish_split(std::string_view body, const std::string& id, const std::string& position);
  void too_large(std::size_t port, sdk::Record&& rec, std::function<void()>&& on_durable,
                 const sdk::Position* at);
  bool recover_positions();
  // Admission control (discard: new): false while the flow's stream has no room for `bytes`
  // below the inputs' share of max_bytes; waits (backpressure) until it has, or until stop.
  bool admit(std::size_t bytes);
  // Also for any discard: false while the nats store's file system (when the engine knows where
  // it is) has less free than a reserve; waits until it has, or until stop.
  bool admit_disk();
  void hold_back(const std::string& why);  // logged once per stall, shown degraded until resumed
  // A replay: stored before, so only its callback runs (with the batch in flight, if any).
  void replayed(std::size_t records, std::function<void()>&& on_durable);
  // Whether `pos` is at or below what this run already took from `source`; else takes it.
  bool accepted(std::string_view source, std::uint64_t pos);
  // The id of an input's record that brings none: <component>:<boot>:<seq>, unique per run.
  std::string record_id(std::uint64_t seq) const;
  // Whether the open batch of `port` (or the dead letters) is full by count or bytes.
  bool batch_due(std::size_t port) const;
  void publish_pending();                     // publishes the open batches without waiting
  void offer_to_taps(std::string_view body);  // a batch received whole, when its port is tapped
  void settle_inflight();                     // waits for the PubAcks, then runs the on_durable callbacks

  FlowShared& shared_;
  const graph::Stage& stage_;
  StageStop stop_;
  std::size_t component_;
  std::string prefix_;
  std::unique_ptr<bus::AsyncPublisher> pub_;
  std::vector<BatchWriter> open_;  // by port
  // Positions of the records in each open batch (one source per batch).
  struct OpenPositions {
    std::string source;
    std::uint64_t lo = 0, hi = 0;
  };
  std::vector<OpenPositions> open_at_;      // by port
  std::vector<std::size_t> subject_index_;  // by port: index in log_'s subjects
  std::unique_ptr<PositionLog> log_;
  std::map<std::string, std::uint64_t, std::less<>> accepted_;  // highest position taken this run, by source
  std::string last_source_;
  std::uint64_t* last_high_ = nullptr;  // accepted_[last_source_] (map nodes are stable)
  // Admission: the stream's size when last read, plus what this input published since.
  std::uint64_t stream_bytes_ = 0;
  std::chrono::steady_clock::time_point stream_read_{};
  bool held_back_ = false;  // reported once per stall
  bool disk_held_ = false;  // the store's disk below the reserve; reported once per stall
  std::chrono::steady_clock::time_point disk_read_{};
  bus::JetStream js_;
  BatchWriter dead_;  // error records nobody consumes
  std::string dead_reason_;
  std::vector<std::function<void()>> pending_callbacks_;   // records in open batches
  std::vector<std::function<void()>> inflight_callbacks_;  // records in published batches
  std::size_t inflight_batches_ = 0;
  GroupCommit* commit_ = nullptr;  // with Durability::synced: callbacks wait for its fsync
  std::string boot_;               // makes ids of records without an origin unique per run
  std::uint64_t seq_ = 0;
  BatchReader tap_reader_;
  std::int64_t last_tap_decode_ns_ = 0;
  std::thread thread_;
};

}  // namespace weir::runtime
