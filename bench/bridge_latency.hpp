// End-to-end latency of a running bridge at a fixed rate: a paced publisher into site A's
// source subject and a core subscriber on the hub's output subject, in this one process.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "bus/connection.hpp"

namespace weir::bench {

struct LatencyOptions {
  double rate = 5000;                      // records per second
  std::chrono::milliseconds duration{10000};
  std::uint64_t first_seq = 0;             // "seq" of the first record (after the throughput run's)
  std::string source_subject = "src.data";
  std::string out_subject = "out.data";
  std::chrono::milliseconds drain{15000};  // how long to wait for the last records after publishing
};

struct LatencyResult {
  std::uint64_t published = 0;
  std::uint64_t received = 0;
  double achieved_rate = 0;  // published / publishing time
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
  std::int64_t dropped = 0;  // by the subscriber's queue (should be 0)
};

// Each record is record(seq, t) with t the steady clock in ns just before its async publish;
// the latency of a record is the subscriber's steady clock when it is taken minus t.
// Throws std::runtime_error on a publish or subscribe failure.
LatencyResult run_latency(const bus::Connection& site_a, const bus::Connection& hub, const LatencyOptions& o);

}  // namespace weir::bench
