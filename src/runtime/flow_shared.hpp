// What every stage of one deployed flow shares. Owned by the FlowRunner; stages hold a reference
// and run on their own threads, so everything here is either immutable after deploy or atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bus/connection.hpp"
#include "bus/msg.hpp"
#include "bus/publisher.hpp"
#include "bus/pull_consumer.hpp"
#include "flow/flow.hpp"
#include "graph/plan.hpp"
#include "metrics/histogram.hpp"
#include "runtime/batch.hpp"
#include "runtime/group_commit.hpp"
#include "runtime/positions.hpp"
#include "runtime/tap.hpp"
#include "sdk/component.hpp"

namespace weir::runtime {

struct ComponentCounters {
  std::atomic<std::uint64_t> records_in{0};
  std::atomic<std::uint64_t> records_out{0};
  std::atomic<std::uint64_t> errors{0};        // records sent to the error port
  std::atomic<std::uint64_t> dead_letters{0};  // records sent to the flow's dead letters
  std::atomic<std::uint64_t> retries{0};       // publish or write rounds that had to be repeated
  std::atomic<std::uint64_t> replays{0};       // records or batches a source sent again, stored once
  // Records out per output port (error excluded), by port index; ports past the last share it.
  static constexpr std::size_t max_ports = 4;
  std::atomic<std::uint64_t> port_out[max_ports] = {};
  void count_out(std::size_t port, std::uint64_t n = 1) {
    records_out.fetch_add(n, std::memory_order_relaxed);
    port_out[port < max_ports ? port : max_ports - 1].fetch_add(n, std::memory_order_relaxed);
  }
  metrics::Histogram processing;  // time to handle one batch (a stage's root only)
  // A stateful processor's snapshots (state_keeper.hpp): how many were stored, the size of the
  // last, and the time spent saving and storing them.
  std::atomic<std::uint64_t> snapshots{0};
  std::atomic<std::uint64_t> snapshot_bytes{0};
  std::atomic<std::uint64_t> snapshot_us{0};
  // An output whose writes fail (retried until they succeed): shown as degraded, with the reason.
  std::atomic<bool> failing{false};
  void set_failing(std::string reason);
  void clear_failing();
  std::string last_error() const;

 private:
  mutable std::mutex error_mu_;
  std::string last_error_;
};

class StageStop;

struct FlowShared {
  flow::Flow flow;
  graph::Plan plan;
  bus::Connection* conn = nullptr;
  // What components reach NATS with (sdk::Context::nats): over `conn` unless the engine has a
  // second, buffered connection for them (Engine).
  sdk::Nats* components_nats = nullptr;
  std::string stream;
  std::string dlq_subject;
  // What one published batch body may hold: the server's max_payload less room for headers
  // (max_body_bytes). Read from the connection at deploy.
  std::size_t max_body = max_body_bytes(1024 * 1024);
  std::vector<std::unique_ptr<sdk::Component>> components;  // by component index
  std::unique_ptr<ComponentCounters[]> counters;            // by component index
  std::shared_ptr<TapHub> taps;                             // live taps on component ports
  PositionRegistry positions;                               // what each publisher stored (janitor)
  std::atomic<bool> stop{false};
  // Once set, in-flight work still drains until this deadline, then is abandoned (unacked work
  // is redelivered after ack_wait, so nothing is lost either way).
  std::atomic<std::int64_t> drain_deadline_ns{0};
  // The fsyncs of the flow stream's files behind inputs with Durability::synced, made by the
  // first one that asks; null until then, and when the broker's store folder is unknown or a
  // first sync fails (`error` tells why). Declared after `components`, so it stops before they
  // go.
  GroupCommit* group_commit(std::string& error);
  GroupCommit* group_commit_if_any();
  std::mutex commit_mu;
  std::unique_ptr<GroupCommit> commit;
  // Set once an input acknowledges only what is on disk: from then on, stages read no message
  // before it is on disk too (GroupCommit::wait_synced), so that a power cut never takes back
  // a sequence a stage already handled (their positions and the consumers' state rest on it).
  std::atomic<bool> sync_gate{false};
  // With sync_gate: waits until the messages (just fetched) are on disk. False when stopping.
  bool await_on_disk(const std::vector<bus::Msg>& msgs, const StageStop& stop);
  // Acks messages a stage handled. With sync_gate, only once what the stage stored (in this
  // stream, the dead letters, another stream of the same server through nats_output) is on disk:
  // a consumer's state can reach the disk before a stream's tail. Those acks go out from the
  // store's group commit while the stage goes on; drain_acks() waits for them.
  void ack_when_on_disk(std::vector<bus::Msg>&& msgs, const std::string& prefix);
  void drain_acks();
  std::unique_ptr<GroupCommit> store_commit;  // every stream of the store; made on first use

  bool stopping() const { return stop.load(std::memory_order_relaxed); }
  bool past_drain_deadline() const;
  const flow::ComponentDecl& component(std::size_t i) const { return flow.components[i]; }
  std::string prefix(std::size_t i) const { return "[" + flow.name + "/" + flow.components[i].id + "]"; }
};

// When one stage stops: with its flow, or alone while the others run on (a reload redeploys its
// components). Stage loops ask this rather than the flow.
class StageStop {
 public:
  explicit StageStop(const FlowShared& shared) : shared_(shared) {}
  // The stage takes no new work; what is in flight still drains until `drain` has passed.
  void request(std::chrono::milliseconds drain);
  bool stopping() const { return shared_.stopping() || stop_.load(std::memory_order_relaxed); }
  // Stopping and past the drain deadline (the flow's or the stage's own): in-flight work is
  // abandoned, unacked, and redelivered after ack_wait.
  bool past_drain_deadline() const;

 private:
  const FlowShared& shared_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> deadline_ns_{0};
};

// Why a record goes to the error port when no message could carry it: "record of N bytes, more
// than the limit of M" (M: what a message body holds, at most the record limit of every reader).
std::string oversize_reason(std::size_t bytes, std::size_t max_body);
// A record no message could carry, as the error record that takes its place: its value kept as
// its head with its size (sdk::raw_record_value). `reason` is set.
sdk::Record oversize_error_record(const FlowShared& shared, std::size_t component, sdk::Record&& rec,
                                  std::string& reason);
// The same for a record known by its id and JSON text (a line of a batch received whole).
sdk::Record oversize_error_record(const FlowShared& shared, std::size_t component, std::string id,
                                  std::string_view json, std::string& reason);
// An error record no message could carry: its `record` cut to its head. False when it was cut
// already (only a max_payload far below nats-server's default makes that too large).
bool cut_error_record(sdk::Record& err, std::size_t max_body);

// The record an error port carries: the original record plus why it failed.
sdk::Record error_record(const FlowShared& shared, std::size_t component, sdk::Record&& rec,
                         std::string_view reason);

// Publishes one batch to a port subject or to the dead letters (with the reason in headers; such
// a batch holds error records, and `origin` is the subject its input was consumed from).
bus::Status publish_batch(bus::AsyncPublisher& pub, const std::string& subject, const BatchWriter& batch,
                          const std::string& msg_id, std::string_view error_reason = {},
                          std::string_view component = {}, std::string_view origin = {},
                          std::string_view position = {});

// Publishes a batch body as it is (one received whole, say) with its record count.
bus::Status publish_batch(bus::AsyncPublisher& pub, const std::string& subject, std::string_view body,
                          std::size_t records, const std::string& msg_id, std::string_view position = {});

// Publishes a message to the dead letters as it is (a batch that cannot be decoded, or one
// delivered too often), with the reason in `Weir-Error`; `records` is the count when known.
// `origin` (`Weir-Subject`) is the subject the batch was consumed from, where a replay sends it
// back; empty when it was not consumed (an input's records). `error_records` (`Weir-Body:
// errors`) marks a body of error records, whose `record` fields are what a replay sends.
bus::Status publish_dead_letter(bus::AsyncPublisher& pub, const std::string& subject, std::string_view body,
                                const std::string& msg_id, std::string_view reason,
                                std::string_view component, std::string_view records = {},
                                std::string_view origin = {}, bool error_records = false);

// A consumed message that goes to the dead letters whole (it does not decode, it was delivered
// too often, a peer refused it): logged, and published with the reason and, when known, its
// record count. Counting it is the caller's.
void dead_letter_message(FlowShared& shared, bus::AsyncPublisher& pub, std::size_t component,
                         const bus::Msg& msg, const std::string& in_id, std::string_view reason,
                         std::string_view records = {});

// Records in a batch message: its Weir-Records header, else its lines.
std::size_t batch_records(const bus::Msg& msg);

// Waits for every outstanding publish; failures are retried with the same ids (duplicates are
// dropped by JetStream) until they succeed, or until the stage must give up (stop requested and
// the drain deadline passed). Returns true when everything was acknowledged.
bool settle(const StageStop& stop, bus::AsyncPublisher& pub, const std::string& prefix);

// After a crash or a broker restart, a consumer's unacked messages come back only after its
// ack_wait, while new ones would be delivered at once. Positions must reach a publisher in
// order (positions.hpp), so when the consumer has unacked messages this waits until they are
// due again (they are then delivered before anything new, in no particular order: `in_order`
// is told how many, to gather and sort them). False when the stage stopped.
bool await_redeliveries(const StageStop& stop, jsCtx* js, const std::string& stream,
                        const std::string& durable, std::chrono::nanoseconds ack_wait,
                        const std::string& prefix, bus::InOrder& in_order);

// The key of a source that is a consumer of the flow's stream: its name and the stream's
// creation time (sequences start over in a stream made anew).
std::string consumer_source(const std::string& durable, std::int64_t stream_created_ns);

// Names the calling thread (shown by top -H, ps -L and debuggers); cut to 15 characters.
void name_thread(const std::string& name);

// Sleeps up to d, waking early when the stage stops and its drain deadline has passed.
void idle(const StageStop& stop, std::chrono::milliseconds d);

}  // namespace weir::runtime
