// The run-time side of a component: what the engine calls. Components include only src/sdk/.
//
// Threading: the engine calls a component from its own threads, never from an Asio handler or a
// nats.c callback. An input's run() has a thread of its own. A processor marked stateless may be
// called from several threads at once (one per upstream edge), so its process() must not mutate
// shared state; every other component is called by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sdk/log.hpp"
#include "sdk/record.hpp"

namespace weir::sdk {

class Nats;

enum class Kind { input, processor, output };

// One of a processor's output ports, by name (Context::output): a handle, so that a component
// never counts positions in its spec's list of ports.
class Port {
 public:
  std::size_t index() const { return index_; }  // in the spec's order of outputs (error last)
  bool operator==(const Port&) const = default;

 private:
  friend struct Context;
  explicit Port(std::size_t index) : index_(index) {}
  std::size_t index_;
};

// What the engine gives a component when it creates it.
struct Context {
  std::string flow;                // flow name
  std::string component;           // component id inside the flow
  Log log;                         // lines carrying the flow and the component
  Nats* nats = nullptr;            // the engine's NATS connection (sdk/nats.hpp); outlives the component
  std::filesystem::path data_dir;  // the engine's data dir (component state goes below it)
  // The flow's ack_wait: how long a batch handed to a component waits before it is redelivered
  // (after a crash, from the restart on).
  std::chrono::nanoseconds ack_wait{std::chrono::seconds(10)};
  // The names of its output ports in the spec's order, error last (set by the spec's create).
  std::vector<std::string> outputs{};

  // The port named `name`. An unknown name throws std::logic_error naming the ports there are:
  // the component fails to start with that message, it never emits to a wrong port.
  Port output(std::string_view name) const;
};

// A figure a component reports beside the engine's own counters (a bridge's link state, its
// unacked frames). Read from any thread, so a component keeps them in atomics.
struct Metric {
  std::string name;  // snake_case, unique within the component: "link_up", "frames_unacked"
  double value = 0;
  bool gauge = false;  // a level that goes up and down; otherwise a counter that only grows
  std::string help;    // one line
};

// A batch as it travels between stages and across a site bridge: one line per record,
// "<record id> <compact JSON>\n". Ids hold no space and JSON text no raw newline.
struct Batch {
  std::string id;  // the id its message had upstream: the same when it is delivered again
  std::string body;
  std::size_t records = 0;
  // Where it was read: for a BatchOutput, the upstream consumer and the batch's sequence in the
  // flow's stream; for InputSink::push_batch (a bridge), the same pair at the sender, the source
  // prefixed with the sender's "<site>/<flow>/<component>/" (empty when unknown). Per source,
  // positions grow in the order batches are sent, except that a batch never confirmed is sent
  // again (with the same source and position).
  std::string source;
  std::uint64_t position = 0;
};

class Component {
 public:
  virtual ~Component() = default;
  // Called once before the first record; an error keeps the flow's other components running
  // and is reported as this component's failure.
  virtual Status start() { return Status::ok(); }
  // Called once after the last record (inputs: after run() returned).
  virtual void stop() {}
  // Called from another thread while a write() or send() may be running, when the engine stops
  // (or redeploys) and the drain time has passed: a component waiting long inside a call (retries
  // against a peer that is down, confirmations that do not come) returns from it soon, with an
  // error (the batch then comes again at the next start). stop() still follows. Default: nothing
  // (a component whose calls never wait long).
  virtual void interrupt() {}
  // Appends the component's own figures (see Metric). Called from any thread.
  virtual void metrics(std::vector<Metric>& /*out*/) const {}
};

// Where a record or a batch came from, for exact replay detection: a source key (no spaces;
// stable across restarts: a stream and consumer, a bridge sender) and the position in that
// source. Per source, positions must reach the engine in increasing order, except that what was
// not confirmed may come again (a replay, dropped exactly).
struct Position {
  std::string_view source;
  std::uint64_t seq = 0;
};

// When an input's on_durable callbacks run.
enum class Durability {
  // After JetStream's PubAck: the broker has the record (nats-server 2.9 keeps it in the
  // operating system's cache and fsyncs every 2 minutes): a crash of any process loses nothing,
  // a power cut can lose what was acknowledged since the broker's last fsync.
  stored,
  // After the PubAck and an fsync of the flow stream's files begun after it: on disk, through a
  // power cut. One fsync covers every callback waiting when it starts (group commit).
  synced,
};

// Where an input hands its records. The engine forms batches, publishes them durably and calls
// on_durable once a record's batch is acknowledged by JetStream: only then may a source ack its
// own upstream (a NATS message, a bridge frame).
class InputSink {
 public:
  virtual ~InputSink() = default;
  // Adds a record to the current batch. Blocks while the publish window is full (backpressure).
  // Returns false once the input should stop; the record is then not taken.
  virtual bool push(Record&& rec, std::function<void()> on_durable = {}) = 0;
  // push() for a record with a position: one at or below what this source already stored is a
  // replay (the source redelivered it): it is not stored again, and on_durable runs.
  virtual bool push_at(const Position& at, Record&& rec, std::function<void()> on_durable = {}) {
    (void)at;
    return push(std::move(rec), std::move(on_durable));
  }
  // A record given as its JSON text, which the caller checked with RecordParser::passes_as_line:
  // an engine puts it into the batch as it is, without parsing and writing it again. Blocks and
  // returns like push(). This default parses it and push()es (a text that fails after all goes
  // to fail()).
  virtual bool push_json(std::string_view json, std::function<void()> on_durable = {});
  // push_json() for a record with a position (see push_at); its id is "<source>:<seq>". This
  // default parses it and push_at()s.
  virtual bool push_json_at(const Position& at, std::string_view json, std::function<void()> on_durable = {});
  // A record the input could not read (bad JSON, say): goes to the error port with the reason.
  virtual bool fail(Record&& rec, std::string_view reason, std::function<void()> on_durable = {}) = 0;
  // fail() for a record with a position (see push_at): a replay of it is not stored again.
  virtual bool fail_at(const Position& at, Record&& rec, std::string_view reason,
                       std::function<void()> on_durable = {}) {
    (void)at;
    return fail(std::move(rec), reason, std::move(on_durable));
  }
  // Publishes a batch whole, as it arrived (a bridge frame): one message whose id derives from
  // batch.id. With batch.source set, batch.position is its position (see push_at): a batch
  // received again is stored once, however late it comes. Blocks like push(); on_durable runs
  // after its PubAck. Records are not checked here: a batch that does not decode is dead-lettered
  // by the stage that reads it.
  virtual bool push_batch(Batch&& batch, std::function<void()> on_durable = {}) = 0;
  // Nothing more is immediately waiting: publish what is batched now, so that at low rates a
  // batch is one record and latency does not grow.
  virtual void flush() = 0;
  virtual bool stopping() const = 0;
  // Chooses when on_durable callbacks run (Durability::stored until called). An error when the
  // engine cannot sync (it does not know where the broker keeps its files): the callbacks then
  // run after the PubAck, as with stored. Call it from run(), before the first push.
  virtual Status set_durability(Durability d) {
    return d == Durability::stored ? Status::ok() : Status::error("this engine cannot sync");
  }
  // Sleeps up to d, waking early on stop. Returns false when stopping.
  virtual bool sleep_for(std::chrono::nanoseconds d) = 0;
};

class Input : public Component {
 public:
  // Runs on its own thread until the source ends or sink.stopping(); returns after its last push.
  virtual void run(InputSink& sink) = 0;
};

// Where a processor sends its results, on ports it took from its Context.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual void emit(Port port, Record&& rec) = 0;
  // The record goes to the error port (or the flow's dead letters) with the reason.
  virtual void fail(Record&& rec, std::string_view reason) = 0;
};

class Processor : public Component {
 public:
  virtual void process(Record&& rec, Emitter& out) = 0;
};

// Per-record failures an output reports while still writing the rest of the batch.
struct Rejects {
  std::vector<std::pair<std::size_t, std::string>> items;  // index in the batch, reason
  void add(std::size_t index, std::string reason) { items.emplace_back(index, std::move(reason)); }
};

class Output : public Component {
 public:
  // Writes the records durably (as durable as the sink can be) and returns ok; only then does
  // the engine ack the batch upstream. A record that can never be written goes to `rejects`
  // (then to the error port). Any other failure returns an error: nothing is acked and the
  // batch is delivered again, with the same record ids.
  virtual Status write(std::span<const Record> records, Rejects& rejects) = 0;
  // write() with where the batch was read: the upstream consumer (source) and the batch's
  // position in the flow's stream. A batch delivered again has the same position, so an output
  // that keeps the highest position it wrote per source, atomically with what it wrote, is
  // exactly once (file_output does).
  virtual Status write_at(const Position& at, std::span<const Record> records, Rejects& rejects) {
    (void)at;
    return write(records, rejects);
  }
};

// An output that hands whole batches to a peer which confirms them later (the site bridge). The
// engine keeps up to window() batches in flight, acks each one upstream only when the output
// reports it delivered, and meanwhile keeps JetStream from redelivering them.
class BatchOutput : public Component {
 public:
  // ok: delivered (durable at the far side). An error: the batch can never be delivered (the
  // peer refused it); it goes to the flow's dead letters with the reason.
  using Done = std::function<void(Status)>;
  // How many batches may be in flight (sent, done not yet called). At least 1.
  virtual std::size_t window() const = 0;
  // Takes the batch without blocking (the engine keeps to window()). `done` runs exactly once,
  // from any thread, unless the output stops first: then the batch stays unacknowledged and is
  // delivered again at the next start, with the same id.
  virtual void send(Batch&& batch, Done done) = 0;
};

}  // namespace weir::sdk
