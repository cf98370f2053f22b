#include "metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace weir::metrics {

// The claim in the header: observe() never takes a lock (a libatomic fallback would).
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

std::vector<double> default_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(bounds_.size() + 1) {
  bounds_ns_.reserve(bounds_.size());
  for (const double b : bounds_) {
    // 2^62 ns is ~146 years: far beyond any latency, and keeps llround in range.
    if (!std::isfinite(b) || std::abs(b) * 1e9 > 0x1p62) {
      throw std::invalid_argument("histogram bucket bound is not a finite number of seconds");
    }
    const std::int64_t ns = std::llround(b * 1e9);
    if (!bounds_ns_.empty() && ns <= bounds_ns_.back()) {
      throw std::invalid_argument("histogram bucket bounds must be strictly increasing (in ns)");
    }
    bounds_ns_.push_back(ns);
  }
}

void Histogram::observe(std::chrono::nanoseconds d) noexcept {
  const std::int64_t ns = d.count();
  // First bound >= ns; past the end is the +Inf bucket. 16 bounds: 4-5 compares.
  const auto it = std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns);
  const auto i = static_cast<std::size_t>(it - bounds_ns_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(buckets_.size());
  std::uint64_t running = 0;
  for (const auto& b : buckets_) {
    running += b.load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace weir::metrics
