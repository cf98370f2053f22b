// A site for end-to-end tests: a real nats-server, a source and a target stream, and the weir
// binary running a flow between them as a child process that the test can kill and restart.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bus/connection.hpp"
#include "support/child_process.hpp"
#include "support/nats_harness.hpp"

namespace weir::testing {

struct OutMessage {
  std::string msg_id;
  std::string data;
  std::string subject;
  std::int64_t stored_ns = 0;  // when OUT stored it (UTC ns)
};

class EngineRig {
 public:
  // `nats_store_dir`: where the rig's nats-server keeps its store (default: a temp dir).
  explicit EngineRig(const std::string& nats_store_dir = {});
  ~EngineRig();

  NatsServer& server() { return server_; }
  const std::string& dir() const { return dir_.path(); }
  std::string flows_dir() const { return dir_.file("flows"); }

  // SRC (subjects src.>) and OUT (subjects out.>, 5 minute duplicate window).
  void create_streams();
  // Publishes {"n": i, "value": i % 100, "site": "a"|"b"} for i in [from, to) to src.data.
  // With `pad`, each record also carries "pad": a string of that many characters. With `copies`,
  // each record is published that many times as distinct messages (a source that repeats
  // itself), copies `first_copy` to `copies - 1` (0 is the original).
  void publish_source(std::uint64_t from, std::uint64_t to, std::size_t pad = 0, int copies = 1,
                      int first_copy = 0);
  // Publishes these JSON texts to src.data, with message ids "src-<first + i><suffix>".
  void publish_records(const std::vector<std::string>& bodies, std::uint64_t first = 0,
                       const std::string& suffix = {});
  void write_flow(const std::string& file, const std::string& json);
  // Rewrites weir.json with `extra` members ("\"http\": {...}") after the rig's own.
  void write_config(const std::string& extra);
  // The engine's HTTP API ("127.0.0.1:port") and its bearer token, as the rig configures them.
  std::string api() const;
  static std::string token() { return "rig-token"; }

  // Engines started from now on reach nats-server through 127.0.0.1:port (a TcpProxy); 0: directly.
  void route_engine_through(std::uint16_t port) { engine_nats_port_ = port; }
  void start_engine();
  void kill_engine();
  pid_t engine_pid() const { return engine_ ? engine_->pid() : -1; }
  // Whether an engine was started and has not exited (on its own: kill_engine() also forgets it).
  bool engine_running() { return engine_ && engine_->running(); }
  int stop_engine();
  std::string engine_log() const;

  std::uint64_t out_count();
  // Messages still held by a stream (the flow's own, once everything is acknowledged, drains).
  std::uint64_t stream_messages(const std::string& stream);
  // A durable consumer's messages not yet delivered plus those not yet acked (UINT64_MAX when
  // unknown).
  std::uint64_t consumer_outstanding(const std::string& stream, const std::string& durable);
  // Streams and consumers of the pipeline, for failure messages.
  std::string debug_state();
  // Every message in OUT, read through a fresh ephemeral-like durable.
  std::vector<OutMessage> read_out();
  // Waits until OUT holds `n` messages (or the deadline passes); returns the count.
  std::uint64_t wait_out(std::uint64_t n, std::chrono::seconds deadline);

 private:
  TempDir dir_;
  std::uint16_t http_port_;
  NatsServer server_;
  std::unique_ptr<bus::Connection> conn_;
  std::unique_ptr<ChildProcess> engine_;
  int runs_ = 0;
  std::uint16_t engine_nats_port_ = 0;
};

// A live source: publishes records n = 0, 1, ... (as publish_source does) at about
// `per_second` until stop(), in bursts every 100 ms (as a gateway forwarding what it polled).
class PacedSource {
 public:
  // With `copy_lag` > 0, each record is published a second time (another message) that many
  // records later: a repeat that comes seconds after its original.
  PacedSource(EngineRig& rig, std::uint64_t per_second, std::uint64_t copy_lag = 0);
  ~PacedSource();
  std::uint64_t stop();                                     // returns how many were published
  std::uint64_t published() const { return next_.load(); }  // so far (records 0 .. published()-1)

 private:
  void run();
  EngineRig& rig_;
  std::uint64_t per_step_;
  std::uint64_t copy_lag_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> next_{0};
  std::thread thread_;
};

// A file of NDJSON records as a sink that hides nothing: how many times each (n, branch) is in
// it ("branch" is "" for records without one), and its line count.
std::map<std::pair<std::int64_t, std::string>, int> count_records(const std::string& path,
                                                                  std::size_t& lines);
std::size_t count_lines(const std::string& path);
// Waits until the file has `want` lines, then `settle` more: a late replay would add lines.
std::size_t wait_lines(const std::string& path, std::size_t want, std::chrono::seconds deadline,
                       std::chrono::seconds settle = std::chrono::seconds(6));
// Every record n in [0, n) exactly once per branch in the file; on failure `context` is shown.
void check_each_once(const std::string& path, std::uint64_t n, const std::vector<std::string>& branches,
                     const std::function<std::string()>& context);
// wait_lines() for n records per branch, then check_each_once().
void expect_each_once(const std::string& path, std::uint64_t n, const std::vector<std::string>& branches,
                      const std::function<std::string()>& context, std::chrono::seconds deadline,
                      std::chrono::seconds settle = std::chrono::seconds(6));

// The flow of the foundation tests: nats_input → json_filter → json_map → nats_output.
std::string pipeline_flow(const std::string& ack_wait = "2s");

// The source numbers in [0, n) that `expected` says should have arrived but are not in `seen`,
// as ranges ("12..40 77..77 "), at most ten, so that a lost batch shows as one range.
std::string missing_ranges(const std::set<std::int64_t>& seen, std::uint64_t n,
                           const std::function<bool(std::uint64_t)>& expected);

// Whether the pipeline's filter passes source record n.
bool passes_filter(std::uint64_t n);
// Checks one OUT payload against what the pipeline makes of its source record; returns n, or
// -1 with `why` set.
std::int64_t check_payload(const std::string& data, std::string& why);

}  // namespace weir::testing
