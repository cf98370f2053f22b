// Latency histograms for the hot path: observe() is a few relaxed atomic increments, no lock, no
// allocation, so stages call it per message from any thread; the exposition reads snapshots.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace weir::metrics {

// Upper bounds in seconds: 100us .. 10s, the Prometheus client defaults widened downwards
// because most stages run in well under a millisecond.
std::vector<double> default_latency_buckets();

// A consistent-enough view for Prometheus: `cumulative[i]` counts observations <= bounds[i],
// the extra last element is the +Inf bucket and always equals `count`.
struct HistogramSnapshot {
  std::vector<double> bounds;             // seconds, strictly increasing, +Inf not included
  std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries
  std::uint64_t count = 0;
  double sum = 0;  // seconds
};

class Histogram {
 public:
  // `upper_bounds` in seconds, strictly increasing and finite (std::invalid_argument
  // otherwise); each is rounded to whole nanoseconds, the unit observations are compared in.
  explicit Histogram(std::vector<double> upper_bounds = default_latency_buckets());
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Lock-free, wait-free on targets with 64-bit atomic add (all we build for). An observation
  // equal to a bound lands in that bound's bucket (`le` is inclusive).
  void observe(std::chrono::nanoseconds d) noexcept;

  // Buckets are read one by one while observers run, so a snapshot may include an observation
  // in its bucket but not yet in `sum` (or the reverse); `count` is derived from the buckets so
  // the +Inf bucket and `_count` always agree.
  HistogramSnapshot snapshot() const;

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::int64_t> bounds_ns_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // per bucket, not cumulative; last = +Inf
  std::atomic<std::int64_t> sum_ns_{0};              // wraps after 292 years of summed latency
};

}  // namespace weir::metrics
