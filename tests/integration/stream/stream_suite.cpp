// The cases of the stream conformance suite (stream_suite.hpp), each run for every entry.
#include "stream_suite.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "http/client.hpp"

namespace weir::testing::stream {

using namespace std::chrono_literals;

std::vector<std::int64_t> read_numbers(const std::string& path) {
  std::vector<std::string> files;
  for (int k = 1; std::filesystem::exists(path + "." + std::to_string(k)); ++k)
    files.insert(files.begin(), path + "." + std::to_string(k));
  files.push_back(path);
  std::vector<std::int64_t> out;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      // The last line while its writer (a subscriber process, the engine) is still at it: read
      // at the next look, once its newline is there.
      if (in.eof()) break;
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      const auto* n = !ec && v.is_object() ? v.get_object().if_contains("n") : nullptr;
      if (n == nullptr || !n->is_int64()) {
        FAIL_CHECK("not a record in " << file << ": " << line.substr(0, 200));
        continue;
      }
      out.push_back(n->get_int64());
    }
  }
  return out;
}

void wait_flow_running(EngineRig& rig, const std::string& name, std::chrono::seconds deadline) {
  std::string body;
  const bool running = wait_until(
      [&] {
        body = weir::http::request("GET", rig.api(), "/api/v1/flows/" + name, {}, EngineRig::token()).body;
        return body.find(R"("state":"running")") != std::string::npos &&
               body.find(R"("state":"starting")") == std::string::npos &&
               body.find(R"("state":"degraded")") == std::string::npos &&
               body.find(R"("state":"failed")") == std::string::npos;
      },
      deadline, 100ms);
  REQUIRE_MESSAGE(running, "flow " << name << " not running: " << body << "\n" << rig.engine_log());
}

void OneEngine::start() {
  rig_.start_engine();
  wait_flow_running(rig_, flow_name_);
}

void OneEngine::kill_and_restart(int) {
  rig_.kill_engine();
  rig_.start_engine();
}

NatsSourced::NatsSourced(std::string flow_name, const std::function<std::string(EngineRig&)>& flow)
    : OneEngine(std::move(flow_name)) {
  rig_.create_streams();
  proxy_ = std::make_unique<TcpProxy>("127.0.0.1", static_cast<std::uint16_t>(rig_.server().port()));
  rig_.route_engine_through(proxy_->port());
  rig_.write_flow(flow_name_ + ".json", flow(rig_));
}

std::string NatsSourced::logs() {
  const auto durable = "weir_" + flow_name_ + "_src";
  return rig_.debug_state() + "SRC " + std::to_string(rig_.stream_messages("SRC")) + " messages, " + durable +
         " outstanding (pending + ack pending): " +
         std::to_string(rig_.consumer_outstanding("SRC", durable)) + "\n" + rig_.engine_log();
}

std::string NatsSourced::source_component(const std::string& ack_wait) {
  return R"({"id": "src", "type": "nats_input", "config": {"subject": "src.data", "stream": "SRC", "ack_wait": ")" +
         ack_wait + R"("}})";
}

namespace {

// Sizes: a few thousand records per case keeps every entry within a minute or two natively.
constexpr std::uint64_t batch_n = 3000;
constexpr std::uint64_t sequential_n = 1000;
constexpr std::uint64_t parallel_producers = 4;
constexpr std::uint64_t parallel_each = 750;
constexpr std::uint64_t paced_n = 4000;  // reconnect and sigkill
constexpr std::uint64_t paced_chunk = 100;
constexpr std::uint64_t bp_warmup = 200;
constexpr std::uint64_t bp_n = 6000;
constexpr std::size_t bp_pad = 16 * 1024;  // 6000 records of 16 KiB: 94 MiB while the consumer is away
// The engine's VmHWM may grow by at most this over its VmRSS before the outage: less than the
// data sent meanwhile, so an engine that held it all in memory fails. Measured natively: up to
// about 45 MiB (nats_input fetches up to 1024 messages at once: 16 MiB of these records, held
// while the batches are cut). Sanitizer runtimes keep freed memory in quarantine (ASan: 256 MiB)
// and shadow it: more room there.
std::int64_t rss_bound_kib() {
  const bool sanitized = std::getenv("ASAN_OPTIONS") != nullptr || std::getenv("TSAN_OPTIONS") != nullptr;
  return (sanitized ? 1024 : 64) * 1024;
}
// Waits for the records: the longest outage is ack_wait, a redelivery ack_wait + 25 % + 1 s, a
// reconnect back-off a few seconds; a sanitizer build is slower.
constexpr auto deliver_deadline = 240s;
constexpr auto settle = 3s;  // after the last record: a late duplicate would still show

struct Tally {
  std::size_t records = 0;  // lines / messages the consumer got
  std::size_t distinct = 0, missing = 0, duplicates = 0, foreign = 0;
  std::size_t out_of_order = 0;  // records that came after a higher number
  std::string missing_ranges;
};

Tally tally(const std::vector<std::int64_t>& got, std::uint64_t n) {
  Tally t;
  t.records = got.size();
  std::map<std::int64_t, int> counts;
  std::int64_t highest = -1;
  for (auto v : got) {
    if (v < 0 || static_cast<std::uint64_t>(v) >= n) {
      ++t.foreign;
      continue;
    }
    if (counts[v]++ > 0) ++t.duplicates;
    if (v < highest) ++t.out_of_order;
    highest = std::max(highest, v);
  }
  t.distinct = counts.size();
  t.missing = n - t.distinct;
  std::set<std::int64_t> seen;
  for (const auto& [k, c] : counts) seen.insert(k);
  t.missing_ranges = missing_ranges(seen, n, [](std::uint64_t) { return true; });
  return t;
}

std::int64_t proc_status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::strtoll(line.c_str() + field.size() + 1, nullptr, 10);
  return -1;
}

const char* guarantee_name(Guarantee g) {
  return g == Guarantee::exactly_once ? "exactly once" : "at least once";
}

void row(const Traits& t, const std::string& c, const std::string& figures) {
  std::printf("| %-10s | %-12s | %s |\n", t.name.c_str(), c.c_str(), figures.c_str());
  std::fflush(stdout);
}

std::string figures(const Tally& t, std::uint64_t n, std::chrono::steady_clock::time_point since) {
  std::ostringstream o;
  o << n << " produced, " << t.records << " received, " << t.distinct << " distinct, " << t.missing
    << " missing, " << t.duplicates << " duplicates, " << t.out_of_order << " out of order, "
    << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - since).count()
    << " s";
  return o.str();
}

// Waits until every record in [0, n) arrived (or the deadline), then `settle`; returns the tally.
Tally await(Stream& s, std::uint64_t n) {
  wait_until([&] { return tally(s.consumed(), n).missing == 0; }, deliver_deadline, 300ms);
  std::this_thread::sleep_for(settle);
  return tally(s.consumed(), n);
}

// The guarantee, as the connector documents it, for records [0, n); returns what the row adds:
// the deduplicated view's figures and the entry's own.
std::string check_guarantee(const Traits& tr, Stream& s, const Tally& t, std::uint64_t n) {
  INFO("entry " << tr.name << " (" << guarantee_name(tr.guarantee) << ")");
  CHECK_MESSAGE(t.missing == 0, "missing records: " << t.missing_ranges << "\n" << s.logs());
  CHECK(t.foreign == 0);
  if (tr.guarantee == Guarantee::exactly_once) CHECK_MESSAGE(t.duplicates == 0, s.logs());
  std::string note;
  if (!tr.deduplicated_by.empty()) {
    const auto d = tally(s.deduplicated(), n);
    CHECK_MESSAGE(d.missing == 0, "missing after deduplication by " << tr.deduplicated_by << ": "
                                                                    << d.missing_ranges << "\n"
                                                                    << s.logs());
    CHECK_MESSAGE(d.duplicates == 0, d.duplicates << " duplicates left after deduplication by "
                                                  << tr.deduplicated_by << "\n"
                                                  << s.logs());
    note = ", by " + tr.deduplicated_by + ": " + std::to_string(d.records) + " kept, " +
           std::to_string(d.duplicates) + " duplicates";
  }
  if (const auto own = s.figures(); !own.empty()) note += ", " + own;
  return note;
}

// Produces [0, n) in chunks of `paced_chunk` on its own thread, until stopped or done.
class PacedProducer {
 public:
  PacedProducer(Stream& s, std::uint64_t n) : stream_(s), n_(n) {
    thread_ = std::thread([this] {
      while (!stop_ && next_ < n_) {
        const auto to = std::min(n_, next_.load() + paced_chunk);
        stream_.produce(next_, to, 0);
        next_ = to;
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~PacedProducer() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits until at least `k` records were produced.
  void reach(std::uint64_t k) {
    REQUIRE(wait_until([&] { return next_ >= k; }, 120s, 20ms));
  }

 private:
  Stream& stream_;
  std::uint64_t n_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> next_{0};
  std::thread thread_;
};

// Every entry of this test, or only the one STREAM_ENTRY names (one meson test per entry when
// a file holds several).
template <typename F>
void for_each_entry(const std::string& case_name, F run) {
  const char* only = std::getenv("STREAM_ENTRY");
  std::size_t ran = 0;
  for (const auto& e : stream_entries()) {
    if (only != nullptr && *only != '\0' && e.traits.name != only) continue;
    ++ran;
    INFO("entry " << e.traits.name << ", case " << case_name);
    auto s = e.make();
    run(e.traits, *s);
  }
  REQUIRE_MESSAGE(ran > 0, "no entry named " << (only != nullptr ? only : "") << " in this test");
}

}  // namespace

TEST_CASE("open/close: the engine starts with the connector and stops cleanly, twice; no record appears") {
  for_each_entry("open/close", [](const Traits& tr, Stream& s) {
    const auto since = std::chrono::steady_clock::now();
    for (int i = 0; i < 2; ++i) {
      s.start();
      CHECK_MESSAGE(s.stop() == 0, s.logs());
    }
    const auto got = s.consumed();
    CHECK(got.empty());
    row(tr, "open/close",
        "2 starts and clean stops, " + std::to_string(got.size()) + " records, " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - since)
                    .count()) +
            " s");
  });
}

// The shape of the delivery cases: start, `produce` n records (with its faults), wait for them,
// check the guarantee (and with `check_order`, the order where the entry keeps it), stop, print
// the row (with `note`, what the faults were).
void deliver(const std::string& case_name, std::uint64_t n, const std::function<void(Stream&)>& produce,
             const std::function<std::string(const Traits&)>& note = {}, bool check_order = false) {
  for_each_entry(case_name, [&](const Traits& tr, Stream& s) {
    const auto since = std::chrono::steady_clock::now();
    s.start();
    produce(s);
    const auto t = await(s, n);
    std::string extra = check_guarantee(tr, s, t, n);
    if (check_order) {
      if (tr.ordered) CHECK_MESSAGE(t.out_of_order == 0, tr.name << ": records arrived out of order");
      extra += tr.ordered ? ", order checked" : ", order not kept: " + tr.order_note;
    }
    if (note) extra += note(tr);
    CHECK_MESSAGE(s.stop() == 0, s.logs());
    row(tr, case_name, figures(t, n, since) + extra);
  });
}

// Produces [0, paced_n) at a pace and calls `fault` (k = 1, 2) at a third and at two thirds.
void paced_with_faults(Stream& s, const std::function<void(int)>& fault) {
  PacedProducer producer(s, paced_n);
  for (int k = 1; k <= 2; ++k) {
    producer.reach(paced_n * static_cast<std::uint64_t>(k) / 3);
    fault(k);
  }
}

TEST_CASE("batch: N records produced at once arrive per the connector's guarantee") {
  deliver("batch", batch_n, [](Stream& s) { s.produce(0, batch_n, 0); });
}

TEST_CASE("sequential: N records one at a time from one producer arrive in order") {
  deliver(
      "sequential", sequential_n, [](Stream& s) { s.produce_sequential(0, sequential_n); }, {}, true);
}

TEST_CASE("parallel: N records from four producers at once") {
  deliver("parallel", parallel_producers * parallel_each, [](Stream& s) {
    std::vector<std::jthread> producers;
    for (std::uint64_t p = 0; p < parallel_producers; ++p)
      producers.emplace_back([&s, p] { s.produce(p * parallel_each, (p + 1) * parallel_each, 0); });
  });
}

TEST_CASE("reconnect: the external system restarted or the link cut twice mid-stream; nothing lost") {
  deliver(
      "reconnect", paced_n, [](Stream& s) { paced_with_faults(s, [&s](int) { s.disrupt(); }); },
      [](const Traits& tr) { return ", 2 x " + tr.disruption; });
}

TEST_CASE("sigkill: the engine SIGKILLed twice while the producer goes on; the guarantee holds") {
  deliver(
      "sigkill", paced_n, [](Stream& s) { paced_with_faults(s, [&s](int k) { s.kill_and_restart(k); }); },
      [](const Traits&) { return std::string(", 2 SIGKILLs"); });
}

TEST_CASE(
    "backpressure: the consumer side gone longer than ack_wait under large records; nothing lost, memory "
    "bounded") {
  for_each_entry("backpressure", [](const Traits& tr, Stream& s) {
    const auto since = std::chrono::steady_clock::now();
    s.start();
    // Warm up, so that the engine's steady working set is in the baseline.
    s.produce(0, bp_warmup, bp_pad);
    REQUIRE(await(s, bp_warmup).missing == 0);
    const pid_t pid = s.memory_pid();
    const auto rss_before = proc_status_kib(pid, "VmRSS");
    REQUIRE(rss_before > 0);
    s.away(true);
    const auto gone_at = std::chrono::steady_clock::now();
    std::vector<std::jthread> producers;
    producers.emplace_back([&s] { s.produce(bp_warmup, bp_warmup + bp_n / 2, bp_pad); });
    producers.emplace_back([&s] { s.produce(bp_warmup + bp_n / 2, bp_warmup + bp_n, bp_pad); });
    producers.clear();  // joined: the external side took every record while the consumer was away
    std::this_thread::sleep_until(gone_at + 2 * tr.ack_wait + 2s);
    const auto away_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - gone_at).count();
    s.away(false);
    constexpr auto n = bp_warmup + bp_n;
    const auto t = await(s, n);
    const auto note = check_guarantee(tr, s, t, n);
    const auto hwm = proc_status_kib(pid, "VmHWM");
    const auto rss_after = proc_status_kib(pid, "VmRSS");
    CHECK_MESSAGE(hwm - rss_before < rss_bound_kib(), "VmHWM " << hwm << " KiB, VmRSS before " << rss_before
                                                               << " KiB: grew past " << rss_bound_kib()
                                                               << " KiB");
    CHECK_MESSAGE(s.stop() == 0, s.logs());
    row(tr, "backpressure",
        figures(t, n, since) + ", away " + std::to_string(away_s) + " s (" + tr.away + "), " +
            std::to_string(bp_n * bp_pad / (1024 * 1024)) + " MiB sent meanwhile, VmRSS before " +
            std::to_string(rss_before / 1024) + " MiB, VmHWM " + std::to_string(hwm / 1024) +
            " MiB, VmRSS after " + std::to_string(rss_after / 1024) + " MiB (bound: +" +
            std::to_string(rss_bound_kib() / 1024) + " MiB)" + note);
  });
}

}  // namespace weir::testing::stream
