#include "metrics/histogram.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weir::metrics::default_latency_buckets;
using weir::metrics::Histogram;

TEST_CASE("default latency buckets run from 100us to 10s") {
  const std::vector<double> expected{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  CHECK(default_latency_buckets() == expected);
  CHECK(Histogram().bounds() == expected);
}

TEST_CASE("an observation equal to a bound counts in that bound's bucket") {
  Histogram h({0.001, 0.01, 1});
  h.observe(1ms);        // == 0.001
  h.observe(1ms + 1ns);  // just above: next bucket
  h.observe(10ms);       // == 0.01
  h.observe(1s);         // == 1
  h.observe(1s + 1ns);   // +Inf
  h.observe(0ns);
  h.observe(-5ns);  // a clock step backwards still lands somewhere, in the lowest bucket
  const auto s = h.snapshot();
  CHECK(s.bounds == std::vector<double>{0.001, 0.01, 1});
  CHECK(s.cumulative == std::vector<std::uint64_t>{3, 5, 6, 7});
  CHECK(s.count == 7);
  CHECK(s.sum == doctest::Approx(0.001 + 0.001000001 + 0.01 + 1 + 1.000000001 - 0.000000005));
}

TEST_CASE("bounds that are not whole nanoseconds in binary still compare exactly") {
  // 0.00025 * 1e9 is not exactly 250000 in doubles; bounds are rounded to whole nanoseconds.
  Histogram h({0.00025, 0.0025});
  h.observe(250us);
  h.observe(2500us);
  h.observe(2500us + 1ns);
  CHECK(h.snapshot().cumulative == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("a histogram without bounds has only the +Inf bucket") {
  Histogram h(std::vector<double>{});
  h.observe(3s);
  const auto s = h.snapshot();
  CHECK(s.cumulative == std::vector<std::uint64_t>{1});
  CHECK(s.count == 1);
  CHECK(s.sum == 3);
}

TEST_CASE("bounds must be finite and strictly increasing") {
  CHECK_THROWS_AS(Histogram({0.1, 0.1}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({1, 0.5}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({0.1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({1e-10, 2e-10}), std::invalid_argument);  // both round to 0ns
}

TEST_CASE("concurrent observers lose nothing") {
  Histogram h({0.001, 0.01});
  constexpr int threads = 4;
  constexpr int per_thread = 100000;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&h, t] {
      for (int i = 0; i < per_thread; ++i) {
        // Thread t spreads over the three buckets: 500us, 5ms, 50ms in turn.
        static constexpr std::chrono::nanoseconds steps[] = {500us, 5ms, 50ms};
        h.observe(steps[(i + t) % 3] + std::chrono::nanoseconds(t));
      }
    });
  }
  // Snapshots taken while observers run stay internally consistent.
  for (int i = 0; i < 100; ++i) {
    const auto s = h.snapshot();
    CHECK(s.cumulative.back() == s.count);
    CHECK(s.cumulative[0] <= s.cumulative[1]);
    CHECK(s.cumulative[1] <= s.cumulative[2]);
  }
  for (auto& th : pool) th.join();

  const auto s = h.snapshot();
  std::uint64_t per_bucket[3] = {};
  std::int64_t sum_ns = 0;
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < per_thread; ++i) {
      const int k = (i + t) % 3;
      ++per_bucket[k];
      sum_ns += std::chrono::nanoseconds(k == 0 ? 500us : k == 1 ? 5ms : 50ms).count() + t;
    }
  }
  CHECK(s.count == std::uint64_t{threads} * per_thread);
  CHECK(s.cumulative[0] == per_bucket[0]);
  CHECK(s.cumulative[1] == per_bucket[0] + per_bucket[1]);
  CHECK(s.cumulative[2] == s.count);
  // The sum is kept in integer nanoseconds, so it is exact before the final division.
  CHECK(s.sum == static_cast<double>(sum_ns) / 1e9);
}
