// file_input under the faults of the field: a writer appending lines live, the file rotated by
// rename and by copy-truncate, and the engine SIGKILLed mid-stream. The sink is a file written by
// file_output; every line of it is counted, so a duplicate anywhere shows as a second line. The
// flow's duplicate window is the smallest allowed (1 s), far below a restart, so JetStream's
// window cannot be what drops the replays.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "rig.hpp"
#include "support/tcp_proxy.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string flow(const std::string& logs, const std::string& out) {
  return R"({"version": 1, "name": "tail", "settings": {"duplicate_window": "1s", "ack_wait": "2s"},
    "components": [
      {"id": "lines", "type": "file_input", "config": {"paths": [")" +
         logs + R"(/app.log*"], "start_at": "beginning", "poll_interval": "50ms", "rotate_wait": "2s"}},
      {"id": "sink", "type": "file_output", "inputs": ["lines"], "config": {"path": ")" +
         out + R"("}}]})";
}

// Appends {"n": i} lines to app.log as a logger does (its own descriptor, a write per burst),
// and rotates the file itself every `rotate_every` lines, alternately by rename (the logger
// then opens a new app.log) and by copy-truncate (copied, then cut to 0 while the logger keeps
// writing through its descriptor). Lines written between the copy and the truncation would be
// lost by any reader (copy-truncate's own window): the writer holds still for that moment.
class LiveLog {
 public:
  LiveLog(std::string dir, std::uint64_t total, std::uint64_t per_second, std::uint64_t rotate_every)
      : dir_(std::move(dir)), total_(total), per_second_(per_second), rotate_every_(rotate_every) {
    open();
    thread_ = std::thread([this] { run(); });
  }
  ~LiveLog() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (f_ != nullptr) std::fclose(f_);
  }
  void wait() {
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t written() const { return next_.load(); }
  int renames() const { return renames_; }
  int copies() const { return copies_; }

 private:
  std::string log() const { return dir_ + "/app.log"; }
  void open() { f_ = std::fopen(log().c_str(), "a"); }
  void rotate() {
    const auto rotated = log() + "." + std::to_string(renames_ + copies_ + 1);
    if ((renames_ + copies_) % 2 == 0) {
      fs::rename(log(), rotated);
      // A logger that reopens late: a few lines still go to the renamed file.
      std::fprintf(f_, "{\"n\":%llu}\n", static_cast<unsigned long long>(next_++));
      std::fclose(f_);
      open();
      ++renames_;
    } else {
      fs::copy_file(log(), rotated);
      fs::resize_file(log(), 0);
      ++copies_;
    }
  }
  void run() {
    const std::uint64_t per_step = std::max<std::uint64_t>(1, per_second_ / 100);
    auto next_step = std::chrono::steady_clock::now();
    while (!stop_ && next_ < total_) {
      for (std::uint64_t i = 0; i < per_step && next_ < total_; ++i) {
        std::fprintf(f_, "{\"n\":%llu}\n", static_cast<unsigned long long>(next_++));
        if (next_ % rotate_every_ == 0 && next_ < total_) {
          std::fflush(f_);
          rotate();
        }
      }
      std::fflush(f_);
      next_step += 10ms;
      std::this_thread::sleep_until(next_step);
    }
  }

  std::string dir_;
  std::uint64_t total_, per_second_, rotate_every_;
  std::FILE* f_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> next_{0};
  int renames_ = 0, copies_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE(
    "100,000 lines appended live, the file rotated 10 times (rename and copy-truncate), the engine "
    "SIGKILLed 3 times: every line once") {
  constexpr std::uint64_t total = 100000;
  EngineRig rig;
  // Every chunk between the engine and nats-server delayed by 40 ms: batches spend most of their
  // time stored and not yet acknowledged, so a kill lands in that window instead of rarely.
  TcpProxy proxy("127.0.0.1", static_cast<std::uint16_t>(rig.server().port()));
  proxy.set_delay(40ms);
  rig.route_engine_through(proxy.port());
  const auto logs = rig.dir() + "/logs";
  fs::create_directories(logs);
  const auto out = rig.dir() + "/tail.ndjson";
  rig.write_flow("tail.json", flow(logs, out));
  rig.start_engine();
  {
    LiveLog writer(logs, total, 2500, total / 11 + 1);
    for (int k = 0; k < 3; ++k) {
      std::this_thread::sleep_for(9s);
      rig.kill_engine();
      proxy.cut();
      std::this_thread::sleep_for(500ms);
      rig.start_engine();
    }
    writer.wait();
    MESSAGE(writer.written() << " lines written, rotated " << writer.renames() << " times by rename and "
                             << writer.copies() << " by copy-truncate");
    CHECK(writer.written() == total);
    CHECK(writer.renames() + writer.copies() == 10);
  }
  expect_each_once(
      out, total, {""}, [&] { return rig.engine_log(); }, 180s);
  CHECK(rig.stop_engine() == 0);
}
