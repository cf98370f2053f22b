#include "bridge_latency.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <memory>
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

// Calls fn(t) for every "t" field in data (one record, or a batch of "<id> <json>\n" lines).
template <class Fn>
void for_each_stamp(std::string_view data, Fn fn) {
  static constexpr std::string_view key = R"("t":)";
  for (auto at = data.find(key); at != std::string_view::npos; at = data.find(key, at + key.size())) {
    std::int64_t t = -1;
    const char* begin = data.data() + at + key.size();
    std::from_chars(begin, data.data() + data.size(), t);
    if (t >= 0) fn(t);
  }
}

// One core subscription and the thread that timestamps what it takes. Stops once it has
// `expected` stamps, when told to drain and the drain deadline passed, or when destroyed.
class Collector {
 public:
  Collector(const bus::Connection& conn, const std::string& subject, std::uint64_t expected,
            const std::atomic<bool>& done, std::chrono::milliseconds drain)
      : expected_(expected) {
    bus::CoreSubscriptionOptions so;
    so.subject = subject;
    auto sub = bus::CoreSubscription::subscribe(conn.raw(), so);
    if (!sub) throw std::runtime_error("latency: subscribe " + subject + ": " + sub.status().text());
    sub_ = std::move(sub.value());
    if (auto st = conn.flush(5s); !st.ok()) throw std::runtime_error("latency: flush: " + st.text());
    ms_.reserve(expected);
    thread_ = std::thread([this, &done, drain] { run(done, drain); });
  }
  ~Collector() {
    stop_ = true;
    join();
  }
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // After join().
  std::vector<double>& ms() { return ms_; }
  std::int64_t dropped() const { return sub_.dropped(); }

 private:
  void run(const std::atomic<bool>& done, std::chrono::milliseconds drain) {
    std::vector<bus::Msg> msgs;
    auto deadline = Clock::time_point::max();
    while (ms_.size() < expected_ && !stop_.load()) {
      msgs.clear();
      (void)sub_.fetch(1024, 50ms, msgs);
      const auto now = now_ns();
      for (const auto& m : msgs)
        for_each_stamp(m.view(), [&](std::int64_t t) { ms_.push_back(static_cast<double>(now - t) / 1e6); });
      if (done.load() && deadline == Clock::time_point::max()) deadline = Clock::now() + drain;
      if (Clock::now() > deadline) break;
    }
  }

  std::uint64_t expected_;
  std::atomic<bool> stop_{false};
  bus::CoreSubscription sub_;
  std::vector<double> ms_;  // the thread's until joined
  std::thread thread_;
};

}  // namespace

LatencyResult run_latency(const bus::Connection& site_a, const bus::Connection& hub,
                          const LatencyOptions& o) {
  const auto total = static_cast<std::uint64_t>(o.rate * std::chrono::duration<double>(o.duration).count());
  std::atomic<bool> publishing_done{false};
  Collector out(hub, o.out_subject, total, publishing_done, o.drain);
  std::unique_ptr<Collector> source, a_flow, hub_flow;
  if (o.hops) {
    source = std::make_unique<Collector>(site_a, o.source_subject, total, publishing_done, o.drain);
    a_flow = std::make_unique<Collector>(site_a, o.site_a_flow_subjects, total, publishing_done, o.drain);
    hub_flow = std::make_unique<Collector>(hub, o.hub_flow_subjects, total, publishing_done, o.drain);
  }

  // Paced on an absolute schedule, so a late wake-up is caught up rather than lowering the rate.
  std::string error;
  double publish_secs = 0;
  if (auto pub = bus::AsyncPublisher::create(site_a); !pub) {
    error = "publisher: " + pub.status().text();
  } else {
    const auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < total && error.empty(); ++i) {
      std::this_thread::sleep_until(t0 + period * static_cast<std::int64_t>(i));
      const auto seq = o.first_seq + i;
      if (auto st = pub.value()->publish(o.source_subject, record(seq, now_ns()), "l" + std::to_string(seq));
          !st.ok())
        error = "publish: " + st.text();
    }
    publish_secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<bus::PublishFailure> failures;
    if (auto st = pub.value()->wait_all(30s, failures); error.empty() && (!st.ok() || !failures.empty()))
      error = "publish failed: " + st.text();
  }
  publishing_done = true;
  out.join();
  for (auto* c : {source.get(), a_flow.get(), hub_flow.get()})
    if (c) c->join();
  if (!error.empty()) throw std::runtime_error("latency: " + error);

  LatencyResult r;
  r.published = total;
  r.received = out.ms().size();
  r.achieved_rate = static_cast<double>(total) / publish_secs;
  r.dropped = out.dropped();
  r.end_to_end = summarize(out.ms());
  if (o.hops) {
    r.dropped += source->dropped() + a_flow->dropped() + hub_flow->dropped();
    r.source = summarize(source->ms());
    r.site_a_flow = summarize(a_flow->ms());
    r.hub_flow = summarize(hub_flow->ms());
  }
  return r;
}

}  // namespace weir::bench
