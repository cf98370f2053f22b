// Exactly once in the field, end to end with the real binary: a live, paced source keeps
// publishing while the engine is killed, and the sink is a file that keeps every line it is
// given (file_output, exactly once itself): a duplicate anywhere on the path shows as a second
// line. The flows' duplicate window is the smallest allowed (1 s), far below ack_wait plus a
// restart, so JetStream's window cannot be what drops the replays.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "rig.hpp"
#include "support/tcp_proxy.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// Publishes records n = 0, 1, ... at about `per_second` until `stop`, in bursts every 100 ms (as
// a gateway forwarding what it polled): the engine is busy with a burst most of the time, so a
// kill lands while batches are in flight.
class PacedSource {
 public:
  PacedSource(EngineRig& rig, std::uint64_t per_second) : rig_(rig), per_step_(per_second / 10) {
    thread_ = std::thread([this] { run(); });
  }
  ~PacedSource() { stop(); }
  std::uint64_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return next_;
  }

 private:
  void run() {
    auto due = std::chrono::steady_clock::now();
    while (!stop_) {
      rig_.publish_source(next_, next_ + per_step_);
      next_ += per_step_;
      due += 100ms;
      std::this_thread::sleep_until(due);
    }
  }
  EngineRig& rig_;
  std::uint64_t per_step_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> next_{0};
  std::thread thread_;
};

// Every line of the file: "n" (and the branch, when there is one) -> how many times.
std::map<std::pair<std::int64_t, std::string>, int> read_lines(const std::string& path, std::size_t& lines) {
  std::map<std::pair<std::int64_t, std::string>, int> seen;
  std::ifstream in(path);
  std::string line;
  lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object() || !v.as_object().contains("n")) {
      FAIL_CHECK("not a record: " << line);
      continue;
    }
    const auto& o = v.as_object();
    std::string branch = o.contains("branch") ? std::string(o.at("branch").as_string()) : "";
    seen[{o.at("n").to_number<std::int64_t>(), branch}]++;
  }
  return seen;
}

std::size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  return static_cast<std::size_t>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

// Waits until the file has `want` lines, then a little longer: a late replay would add more.
std::size_t wait_lines(const std::string& path, std::size_t want, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (count_lines(path) < want && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(200ms);
  std::this_thread::sleep_for(6s);  // beyond ack_wait (2 s) and the duplicate window (1 s)
  return count_lines(path);
}

void check_each_once(const std::string& path, std::uint64_t n, const std::vector<std::string>& branches,
                     EngineRig& rig) {
  std::size_t lines = 0;
  auto seen = read_lines(path, lines);
  std::size_t missing = 0, doubled = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    for (const auto& b : branches) {
      auto it = seen.find({static_cast<std::int64_t>(i), b});
      const int c = it == seen.end() ? 0 : it->second;
      if (c == 0 && missing++ < 5) FAIL_CHECK("record " << i << " (" << b << ") is missing");
      if (c > 1 && doubled++ < 5) FAIL_CHECK("record " << i << " (" << b << ") arrived " << c << " times");
    }
  CHECK(missing == 0);
  CHECK(doubled == 0);
  CHECK(lines == n * branches.size());
  if (missing + doubled > 0) MESSAGE(rig.debug_state() << rig.engine_log().substr(0, 20000));
}

std::string flow(const std::string& out, bool fan) {
  const std::string settings = R"("settings": {"duplicate_window": "1s", "ack_wait": "2s"})";
  const std::string input =
      R"({"id": "src", "type": "nats_input", "config": {"subject": "src.>", "stream": "SRC", "ack_wait": "2s"}})";
  if (!fan)
    return R"({"version": 1, "name": "once", )" + settings + R"(, "components": [)" + input + R"(,
      {"id": "shape", "type": "json_map", "inputs": ["src"], "config": {"set": {"f": "value * 2"}}},
      {"id": "sink", "type": "file_output", "inputs": ["shape"], "config": {"path": ")" + out + R"("}}]})";
  return R"({"version": 1, "name": "once", )" + settings + R"(, "components": [)" + input + R"(,
      {"id": "a", "type": "json_map", "inputs": ["src"], "config": {"set": {"branch": "\"a\""}}},
      {"id": "b", "type": "json_map", "inputs": ["src"], "config": {"set": {"branch": "\"b\""}}},
      {"id": "sink", "type": "file_output", "inputs": ["a", "b"], "config": {"path": ")" + out + R"("}},
      {"id": "copy", "type": "nats_output", "inputs": ["a", "b"], "config": {"subject": "out.data"}}]})";
}

}  // namespace

// The engine reaches nats-server through a proxy that delays every chunk by 40 ms, both ways:
// each batch then spends most of its time stored and not yet acknowledged (the PubAck and the
// ack are still on their way), so a kill lands in that crash window instead of rarely.
std::unique_ptr<TcpProxy> slow_link(EngineRig& rig) {
  auto proxy = std::make_unique<TcpProxy>("127.0.0.1", static_cast<std::uint16_t>(rig.server().port()));
  proxy->set_delay(40ms);
  rig.route_engine_through(proxy->port());
  return proxy;
}

void kill_with_work_in_flight(EngineRig& rig, TcpProxy& proxy) {
  rig.kill_engine();
  proxy.cut();
}

TEST_CASE("a live source at 2,000 records/s while the engine is SIGKILLed three times: each record once") {
  EngineRig rig;
  rig.create_streams();
  auto proxy = slow_link(rig);
  const auto out = rig.dir() + "/once.ndjson";
  rig.write_flow("once.json", flow(out, false));
  rig.start_engine();
  std::uint64_t n = 0;
  {
    PacedSource source(rig, 2000);
    for (int k = 0; k < 3; ++k) {
      std::this_thread::sleep_for(3s);
      kill_with_work_in_flight(rig, *proxy);
      std::this_thread::sleep_for(500ms);
      rig.start_engine();
    }
    std::this_thread::sleep_for(3s);
    n = source.stop();
  }
  MESSAGE(n << " records published");
  CHECK(n > 15000);
  wait_lines(out, n, 120s);
  check_each_once(out, n, {""}, rig);
  CHECK(rig.stop_engine() == 0);
}

TEST_CASE("fan-out then fan-in: both branches arrive, each record once per branch, also at nats_output") {
  EngineRig rig;
  rig.create_streams();
  auto proxy = slow_link(rig);
  const auto out = rig.dir() + "/fan.ndjson";
  rig.write_flow("once.json", flow(out, true));
  rig.start_engine();
  std::uint64_t n = 0;
  {
    PacedSource source(rig, 2000);
    std::this_thread::sleep_for(3s);
    kill_with_work_in_flight(rig, *proxy);
    rig.start_engine();
    std::this_thread::sleep_for(3s);
    n = source.stop();
  }
  wait_lines(out, 2 * n, 120s);
  check_each_once(out, n, {"a", "b"}, rig);
  // nats_output publishes each record with its id: ids differ per branch, so the OUT stream's
  // duplicate window (5 min) keeps both branches.
  CHECK(rig.wait_out(2 * n, 60s) == 2 * n);
  CHECK(rig.stop_engine() == 0);
}
