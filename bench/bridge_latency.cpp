#include "bridge_latency.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "bus/core_subscription.hpp"
#include "bus/publisher.hpp"

namespace weir::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// The "t" field of a record, -1 when it has none.
std::int64_t stamp(std::string_view data) {
  static constexpr std::string_view key = R"("t":)";
  auto at = data.find(key);
  if (at == std::string_view::npos) return -1;
  std::int64_t t = -1;
  const char* begin = data.data() + at + key.size();
  std::from_chars(begin, data.data() + data.size(), t);
  return t;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

LatencyResult run_latency(const bus::Connection& site_a, const bus::Connection& hub, const LatencyOptions& o) {
  bus::CoreSubscriptionOptions so;
  so.subject = o.out_subject;
  auto sub = bus::CoreSubscription::subscribe(hub.raw(), so);
  if (!sub) throw std::runtime_error("latency: subscribe: " + sub.status().text());
  if (auto st = hub.flush(5s); !st.ok()) throw std::runtime_error("latency: flush: " + st.text());

  const auto total = static_cast<std::uint64_t>(o.rate * std::chrono::duration<double>(o.duration).count());
  std::vector<double> latencies;
  latencies.reserve(total);
  std::atomic<bool> publishing_done{false};
  // The receiver runs on its own thread; it owns `latencies` until joined.
  std::thread receiver([&] {
    std::vector<bus::Msg> msgs;
    Clock::time_point drain_deadline = Clock::time_point::max();
    while (latencies.size() < total) {
      msgs.clear();
      (void)sub->fetch(1024, 50ms, msgs);
      const auto now = now_ns();
      for (const auto& m : msgs)
        if (auto t = stamp(m.view()); t >= 0) latencies.push_back(static_cast<double>(now - t) / 1e6);
      if (publishing_done.load() && drain_deadline == Clock::time_point::max()) drain_deadline = Clock::now() + o.drain;
      if (Clock::now() > drain_deadline) break;
    }
  });

  // Paced on an absolute schedule, so a late wake-up is caught up rather than lowering the rate.
  std::string error;
  double publish_secs = 0;
  if (auto pub = bus::AsyncPublisher::create(site_a); !pub) {
    error = "publisher: " + pub.status().text();
  } else {
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < total && error.empty(); ++i) {
      std::this_thread::sleep_until(t0 + period * static_cast<std::int64_t>(i));
      const auto seq = o.first_seq + i;
      if (auto st = pub.value()->publish(o.source_subject, record(seq, now_ns()), "l" + std::to_string(seq)); !st.ok())
        error = "publish: " + st.text();
    }
    publish_secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<bus::PublishFailure> failures;
    if (auto st = pub.value()->wait_all(30s, failures); error.empty() && (!st.ok() || !failures.empty()))
      error = "publish failed: " + st.text();
  }
  publishing_done = true;
  receiver.join();
  if (!error.empty()) throw std::runtime_error("latency: " + error);

  LatencyResult r;
  r.published = total;
  r.received = latencies.size();
  r.achieved_rate = static_cast<double>(total) / publish_secs;
  r.dropped = sub->dropped();
  std::sort(latencies.begin(), latencies.end());
  r.p50_ms = percentile(latencies, 0.50);
  r.p90_ms = percentile(latencies, 0.90);
  r.p99_ms = percentile(latencies, 0.99);
  r.p999_ms = percentile(latencies, 0.999);
  r.max_ms = latencies.empty() ? 0 : latencies.back();
  double sum = 0;
  for (double l : latencies) sum += l;
  r.mean_ms = latencies.empty() ? 0 : sum / static_cast<double>(latencies.size());
  return r;
}

}  // namespace weir::bench
