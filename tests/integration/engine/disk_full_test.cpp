// A full disk under the nats store and the engine's data_dir, end to end with the real binary:
// both sit on a small tmpfs made by the test, and a filler file takes every byte of it while a
// paced source keeps publishing. The sink (file_output) is on another, roomy file system, and the
// source's stream is in memory: only weir's own storage runs out.
#include <doctest/doctest.h>
#include <nats/nats.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "http/client.hpp"
#include "rig.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// A size-limited tmpfs, mounted for the test's lifetime. Mounting needs root (or CAP_SYS_ADMIN):
// without it the test fails with the reason, it never skips.
class TmpfsMount {
 public:
  TmpfsMount(std::string path, const std::string& size) : path_(std::move(path)) {
    std::filesystem::create_directories(path_);
    const std::string opts = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) != 0)
      throw std::runtime_error(
          "cannot mount a " + size + " tmpfs on " + path_ + ": " + std::strerror(errno) +
          " (the disk-full test needs root or CAP_SYS_ADMIN to make a small file system)");
  }
  ~TmpfsMount() { ::umount2(path_.c_str(), MNT_DETACH); }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes 1 MiB every 50 ms (a copy or a runaway log) until the file system refuses; returns the
// bytes written.
std::uint64_t fill(const std::string& file) {
  const std::string chunk(1 << 20, 'f');
  std::FILE* f = std::fopen(file.c_str(), "wb");
  REQUIRE_MESSAGE(f != nullptr, file << ": " << std::strerror(errno));
  std::uint64_t written = 0;
  for (;;) {
    const auto n = std::fwrite(chunk.data(), 1, chunk.size(), f);
    written += n;
    if (n < chunk.size() || std::fflush(f) != 0) break;
    std::this_thread::sleep_for(50ms);
  }
  const int err = errno;
  std::fclose(f);
  CHECK_MESSAGE(err == ENOSPC, "the filler stopped on " << std::strerror(err));
  return written;
}

// SRC in memory: the source's own stream is not what runs out of disk.
void create_memory_source(EngineRig& rig) {
  weir::bus::ConnectOptions o;
  o.url = rig.server().url();
  auto c = weir::bus::Connection::connect(o);
  REQUIRE_MESSAGE(c.ok(), c.status().text());
  auto js = c.value()->jetstream();
  REQUIRE(js.ok());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {"src.>"};
  cfg.Name = "SRC";
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_MemoryStorage;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const auto s = js_AddStream(&si, js->raw(), &cfg, nullptr, &jerr);
  REQUIRE_MESSAGE(s == NATS_OK, "SRC: " << natsStatus_GetText(s) << " " << nats_GetLastError(nullptr));
  jsStreamInfo_Destroy(si);
}

std::string flow(const std::string& out, const std::string& factor) {
  return R"({"version": 1, "name": "disk",
    "settings": {"max_bytes": "16MiB", "duplicate_window": "1s", "ack_wait": "2s"},
    "components": [
      {"id": "src", "type": "nats_input", "config": {"subject": "src.>", "stream": "SRC", "ack_wait": "2s"}},
      {"id": "shape", "type": "json_map", "inputs": ["src"], "config": {"set": {"f": "value * )" +
         factor + R"("}}},
      {"id": "sink", "type": "file_output", "inputs": ["shape"], "config": {"path": ")" +
         out + R"("}}]})";
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string get(EngineRig& rig, const std::string& target) {
  return weir::http::request("GET", rig.api(), target).body;
}

}  // namespace

TEST_CASE("the nats store's disk fills up while a paced source runs: held back, reported, nothing lost") {
  TempDir small_dir("weir-disk");
  TmpfsMount small(small_dir.file("fs"), "48m");
  const auto store = small.path() + "/nats";
  EngineRig rig(store);
  create_memory_source(rig);
  std::filesystem::create_directories(small.path() + "/data");
  std::filesystem::create_directory_symlink(small.path() + "/data", rig.dir() + "/data");
  rig.write_config(R"("http": {"listen": ")" + rig.api() + R"(", "token": ")" + EngineRig::token() +
                   R"("}, "nats": {"store_dir": ")" + store + R"("})");
  const auto out = rig.dir() + "/disk.ndjson";  // the roomy file system
  rig.write_flow("disk.json", flow(out, "2"));
  rig.start_engine();
  auto context = [&] { return rig.debug_state() + rig.engine_log(); };
  std::uint64_t n = 0;
  const auto filler = small.path() + "/filler";
  {
    PacedSource source(rig, 2000);
    REQUIRE_MESSAGE(wait_until([&] { return count_lines(out) > 2000; }, 30s, 100ms), context());
    const auto t0 = std::chrono::steady_clock::now();
    const auto filled = fill(filler);
    MESSAGE("the filler took " << (filled >> 20) << " MiB in "
                               << std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - t0)
                                      .count()
                               << " ms");
    // Degraded, with the reason, in /ready and in the flow's state.
    std::string ready;
    CHECK_MESSAGE(wait_until(
                      [&] {
                        ready = get(rig, "/ready");
                        return ready.find(R"("status":"degraded")") != std::string::npos &&
                               ready.find("disk/src: held back: the disk of the nats store") !=
                                   std::string::npos;
                      },
                      10s, 100ms),
                  ready);
    MESSAGE("/ready while the disk is full: " << ready);
    const auto flow_state = get(rig, "/api/v1/flows/disk");
    CHECK_MESSAGE(flow_state.find(R"("state":"degraded","error":"held back: the disk of the nats store)") !=
                      std::string::npos,
                  flow_state);
    // A deploy while the disk is full: it takes effect, and the history failure is reported.
    const auto put =
        weir::http::request("PUT", rig.api(), "/api/v1/flows/disk", flow(out, "3"), EngineRig::token(), 30s);
    MESSAGE("PUT during the full disk: " << put.status << " " << put.body);
    CHECK(put.status == 200);
    CHECK_MESSAGE(put.body.find("revision not recorded in the history") != std::string::npos, put.body);
    const auto reloads = get(rig, "/api/v1/reloads");
    CHECK_MESSAGE(reloads.find("revision not recorded in the history") != std::string::npos, reloads);
    std::this_thread::sleep_for(5s);  // full for a while: retries must not add log lines
    CHECK(rig.engine_running());
    // Space comes back: the flow resumes by itself.
    std::filesystem::remove(filler);
    CHECK_MESSAGE(
        wait_until([&] { return get(rig, "/ready").find(R"("status":"ready")") != std::string::npos; }, 20s,
                   100ms),
        get(rig, "/ready"));
    std::this_thread::sleep_for(3s);
    n = source.stop();
  }
  MESSAGE(n << " records published");
  expect_each_once(out, n, {""}, context, 120s, 3s);
  CHECK(rig.engine_running());
  // Once per transition, however long it lasted.
  const auto log = rig.engine_log();
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    if (line.find("disk") != std::string::npos && line.find("warning[") == std::string::npos)
      MESSAGE("engine: " << line);
  CHECK_MESSAGE(occurrences(log, "held back: the disk of the nats store") == 1, log);
  CHECK_MESSAGE(occurrences(log, "the nats store's disk has room again") == 1, log);
  CHECK_MESSAGE(occurrences(log, "revision not recorded in the history") == 1, log);
  CHECK(rig.stop_engine() == 0);
}
