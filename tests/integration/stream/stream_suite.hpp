// The stream conformance suite: one table of cases, run for every input/output pair (after
// Redpanda Connect's integration.StreamTests). Cases (stream_suite.cpp), each on fresh systems:
//   open/close       the engine starts with the connector and stops cleanly (exit 0), twice;
//                    no record appears
//   batch            N records produced at once; each arrives per the guarantee
//   sequential       N records from one producer, one at a time; arrival order checked where
//                    the entry says it is kept (`ordered`), reported where not
//   parallel         N records from four producers at once
//   reconnect        a paced producer; the entry's disrupt() twice mid-stream (an external
//                    system restarted, or the link cut through TcpProxy)
//   sigkill          a paced producer; the engine SIGKILLed and restarted twice mid-stream
//   backpressure     the external side gone (away(true)) for longer than the flow's ack_wait
//                    while large records keep coming, then back: nothing lost, and the engine's
//                    VmHWM stays within a generous bound of its VmRSS before (/proc/<pid>/status)
// Each case prints one row, "| entry | case | figures |", to stdout (the test's log).
//
// The guarantee is checked as the connector documents it (components/<type>/README.md):
// exactly_once: every record once, no duplicate; at_least_once: every record, duplicates counted
// and printed. The consumer of every entry counts every record it is given (duplicates kept).
// A connector that is exactly once only at a consumer that deduplicates (http_output at a
// receiver that honours Idempotency-Key) names how in Traits::deduplicated_by and gives what
// such a consumer keeps (Stream::deduplicated()): that is checked exactly once as well.
//
// Adding an entry (say http_input → http_output):
//   1. tests/integration/stream/http_entry.cpp: a class deriving from Stream (below) that starts
//      the external system(s) and the engine with the flow in its constructor/start(), and
//      implements produce / consumed / disrupt / away / kill_and_restart / stop / memory_pid;
//      then `std::vector<Entry> stream_entries() { return {{traits, [] { return
//      std::make_unique<HttpStream>(); }}}; }`. An output whose records come from SRC derives
//      from NatsSourced instead and only gives its flow and consumed() (file_entry.cpp: 30 lines).
//   2. tests/integration/stream/meson.build: add `'http' : [[], ['http'], ['integration']],` to
//      stream_files (file name: extra sources, the entries' Traits::name, each a meson test
//      `stream_<name>` run with STREAM_ENTRY=<name>, and the suites; add 'long' past ~90 s).
//   Records are JSON objects {"n": <number>, ...}; consumed() returns the n of every record the
//   consumer got, in arrival order, duplicates included.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../engine/rig.hpp"
#include "support/tcp_proxy.hpp"

namespace weir::testing::stream {

enum class Guarantee { exactly_once, at_least_once };

struct Traits {
  std::string name;  // the entry's row name: "nats", "mqtt_qos2"
  Guarantee guarantee = Guarantee::exactly_once;
  bool ordered = true;               // one producer's records arrive in the order produced (no faults)
  std::string order_note;            // why not, when !ordered
  std::chrono::seconds ack_wait{2};  // the flow's ack_wait: backpressure stays away longer
  std::string disruption;            // what disrupt() does, for the report
  std::string away;                  // what away(true) does, for the report
  std::string deduplicated_by;       // not empty: deduplicated() is checked exactly once
};

// One running instance of an entry: its external systems, its engine(s) and its flow.
class Stream {
 public:
  virtual ~Stream() = default;
  // Starts the engine(s) and returns once the flow runs and records may be produced.
  virtual void start() = 0;
  // Stops the engine(s) gracefully; the exit status (0 for all clean).
  virtual int stop() = 0;
  // SIGKILLs the engine holding the connector under test (the `k`-th kill of the case: an entry
  // with two engines may alternate) and starts it again at once.
  virtual void kill_and_restart(int k) = 0;
  // Sends records n in [from, to), each with a "pad" of `pad` characters when pad > 0, into the
  // external side and returns once it confirmed them. Called from several threads at once with
  // distinct ranges (parallel case).
  virtual void produce(std::uint64_t from, std::uint64_t to, std::size_t pad) = 0;
  // Sends [from, to) from one producer one record at a time, each confirmed before the next
  // (sequential case). An entry whose produce() is costly per call (a process) overrides it.
  virtual void produce_sequential(std::uint64_t from, std::uint64_t to) {
    for (auto i = from; i < to; ++i) produce(i, i + 1, 0);
  }
  // The n of every record the consumer got so far, in arrival order, duplicates included.
  virtual std::vector<std::int64_t> consumed() = 0;
  // The external system restarted, or the connection cut (see Traits::disruption).
  virtual void disrupt() = 0;
  // With Traits::deduplicated_by: the n of every record a consumer that deduplicates that way kept.
  virtual std::vector<std::int64_t> deduplicated() { return {}; }
  // Figures of the entry's own for a case's row (requests seen, retries), or "".
  virtual std::string figures() { return {}; }
  // The consumer side gone (true) and back (false).
  virtual void away(bool gone) = 0;
  // The engine whose memory the backpressure case watches.
  virtual pid_t memory_pid() = 0;
  virtual std::string logs() = 0;
};

struct Entry {
  Traits traits;
  std::function<std::unique_ptr<Stream>()> make;
};

// Defined by each entry's file: the entries its test runs.
std::vector<Entry> stream_entries();

// Helpers for entries.

// The "n" of every NDJSON line of `path`, in file order (a line without one fails the check),
// after those of the files file_output rotated out (`path`.K .. `path`.1, oldest first).
std::vector<std::int64_t> read_numbers(const std::string& path);
// Waits until the engine's API shows flow `name` and each of its components running (an input
// or output with a link shows "degraded" until connected); fails the test after `deadline`.
void wait_flow_running(EngineRig& rig, const std::string& name,
                       std::chrono::seconds deadline = std::chrono::seconds(60));

// An entry with one engine (rig_) that runs the flow named `flow_name`: started until the flow
// runs, stopped, killed and restarted; its memory is the one watched.
class OneEngine : public Stream {
 public:
  explicit OneEngine(std::string flow_name) : flow_name_(std::move(flow_name)) {}
  void start() override;
  int stop() override { return rig_.stop_engine(); }
  void kill_and_restart(int k) override;
  pid_t memory_pid() override { return rig_.engine_pid(); }

 protected:
  EngineRig rig_;
  std::string flow_name_;
};

// An entry whose records come from the rig's SRC stream through nats_input (the neutral partner
// of an output under test), with the engine reaching nats-server through a TcpProxy:
// disrupt() cuts that link, away() stalls it (the engine's whole bus gone) .
class NatsSourced : public OneEngine {
 public:
  // `flow(rig)`: the flow file, named `flow_name`, reading SRC with nats_input.
  NatsSourced(std::string flow_name, const std::function<std::string(EngineRig&)>& flow);
  void produce(std::uint64_t from, std::uint64_t to, std::size_t pad) override {
    rig_.publish_source(from, to, pad);
  }
  void disrupt() override { proxy_->cut(); }
  void away(bool gone) override { proxy_->set_stalled(gone); }
  std::string logs() override;

  // The nats_input component of a flow over SRC with the given ack_wait.
  static std::string source_component(const std::string& ack_wait);

 protected:
  std::unique_ptr<TcpProxy> proxy_;
};

}  // namespace weir::testing::stream
