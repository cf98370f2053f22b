// End-to-end latency of a running bridge at a fixed rate: a paced publisher into site A's
// source subject and a core subscriber on the hub's output subject, in this one process. More
// core subscribers time each record at the source subject itself (one trip through site A's
// nats-server and back: the floor this machine allows) and on the flows' internal subjects
// (site A's flow stream, the hub's flow stream), to tell where the time goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "bench_util.hpp"
#include "bus/connection.hpp"

namespace weir::bench {

struct LatencyOptions {
  double rate = 5000;  // records per second
  std::chrono::milliseconds duration{10000};
  std::uint64_t first_seq = 0;  // "seq" of the first record (after the throughput run's)
  std::string source_subject = "src.data";
  std::string out_subject = "out.data";
  std::string site_a_flow_subjects = "weir.uplink.>";  // the batches site A's input stores
  std::string hub_flow_subjects = "weir.hub.>";        // the batches the hub's websocket_input stores
  std::chrono::milliseconds drain{15000};  // how long to wait for the last records after publishing
  bool hops = true;  // also time the intermediate hops (three more subscribers in this process)
};

struct LatencyResult {
  std::uint64_t published = 0;
  std::uint64_t received = 0;  // at the hub's output subject
  double achieved_rate = 0;    // published / publishing time
  std::int64_t dropped = 0;    // by the subscribers' queues (should be 0)
  Percentiles end_to_end;      // source publish → hub output subject
  // With `hops`:
  Percentiles source;       // source publish → back from site A's server (the machine's floor)
  Percentiles site_a_flow;  // source publish → batch published into site A's flow stream
  Percentiles hub_flow;     // source publish → batch published into the hub's flow stream
};

// Each record is record(seq, t) with t the steady clock in ns just before its async publish;
// its latency at a hop is the subscriber's steady clock when it is taken minus t.
// Throws std::runtime_error on a publish or subscribe failure.
LatencyResult run_latency(const bus::Connection& site_a, const bus::Connection& hub, const LatencyOptions& o);

}  // namespace weir::bench
