// A power cut at the hub. The hub's nats-server keeps its store on powercut_fs, which forgets
// every write not yet fsynced when the power goes; the hub's nats-server and engine are killed
// at that same moment, then everything starts again on what was synced. Site A sends a live
// stream meanwhile; once site A's stream has drained (so A was told that every record is stored
// at the hub), the hub's sink (file_output, on a disk that keeps its power: the world outside)
// must hold every record exactly once.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <set>
#include <thread>

#include "support/powercut_mount.hpp"
#include "two_sites.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

struct CutResult {
  std::uint64_t published = 0;
  std::uint64_t missing = 0;  // records site A was told were stored that never reached the sink
  std::uint64_t doubled = 0;  // records written more than once
  std::string fs_log;
  bool consumer_made_anew = false;  // the hub found a consumer ahead of its stream after the cut
  int synced_runs = 0;              // hub engine runs whose receiver acknowledged only what is on disk
  bool sync_off = false;            // a hub engine run fell back to acknowledging after the PubAck
};

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Site A is done when every record left its flow: then it was told each one is stored.
void check_site_a_drained(TwoSites& sites) {
  auto& a = sites.site_a();
  const bool drained = wait_until(
      [&] {
        return a.consumer_outstanding("SRC", "weir_uplink_src") == 0 && a.stream_messages("WEIR_UPLINK") == 0;
      },
      120s, 200ms);
  CHECK_MESSAGE(drained, "site A did not drain\n" << sites.logs());
}

// `durability`: the hub's websocket_input's setting. `ext4`: the disk keeps what ext4 puts on
// disk at once (files replaced by truncate or rename: the consumers' state) as well.
CutResult power_cut_at_hub(const std::string& durability, bool ext4 = false) {
  TempDir dir("weir-bridge-power");
  PowerCutMount disk(dir.file("disk"), dir.file("mnt"), dir.file("powercut_fs.log"), ext4);
  const auto out = dir.file("hub.ndjson");
  LinkOptions o;
  o.hub_settings = R"({"duplicate_window": "1s", "ack_wait": "2s"})";
  o.hub_sink = R"({ "id": "sink", "type": "file_output", "inputs": ["from_sites"], "config": { "path": ")" +
               out + R"(" } })";
  o.hub_extra = R"(, "durability": ")" + durability + "\"";
  o.hub_store_dir = disk.path() + "/nats";
  TwoSites sites(o);
  auto& hub = sites.hub();
  // The hub's engine knows where its nats-server keeps the stream's files.
  hub.write_config(R"("http": {"listen": ")" + hub.api() + R"(", "token": ")" + EngineRig::token() +
                   R"("}, "nats": {"store_dir": ")" + o.hub_store_dir + R"("})");
  sites.proxy().set_delay(50ms);  // frames in flight, stored at the hub and not yet acked, at the cut
  sites.start();
  REQUIRE_MESSAGE(
      wait_until([&] { return hub.engine_log().find("link up from site") != std::string::npos; }, 30s, 50ms),
      sites.logs());
  disk.flush_all();  // the setup is long on disk: only what follows is at risk
  CutResult r;
  {
    PacedSource source(sites.site_a(), 2000);
    std::this_thread::sleep_for(6s);
    // The power goes: the hub's nats-server, its engine and its disk cache at the same moment.
    ::kill(hub.server().pid(), SIGKILL);
    ::kill(hub.engine_pid(), SIGKILL);
    ::kill(disk.pid(), SIGUSR1);
    disk.await_cut();
    hub.server().kill9();
    hub.kill_engine();
    disk.unmount();
    std::this_thread::sleep_for(2s);
    // The power is back: the disk shows what was synced.
    disk.mount();
    hub.server().start();
    hub.start_engine();
    std::this_thread::sleep_for(4s);
    r.published = source.stop();
  }
  check_site_a_drained(sites);
  wait_lines(out, r.published, 30s, 4s);
  std::size_t lines = 0;
  auto seen = count_records(out, lines);
  for (std::uint64_t i = 0; i < r.published; ++i) {
    auto it = seen.find({static_cast<std::int64_t>(i), ""});
    const int c = it == seen.end() ? 0 : it->second;
    if (c == 0) ++r.missing;
    if (c > 1) r.doubled += static_cast<std::uint64_t>(c - 1);
  }
  r.fs_log = disk.log();
  r.consumer_made_anew = hub.engine_log().find("made anew from sequence") != std::string::npos;
  r.synced_runs = count_of(hub.engine_log(), "acknowledges only what is on disk");
  r.sync_off = hub.engine_log().find("durability \"sync\" is off") != std::string::npos;
  if (r.missing + r.doubled > 0) {
    std::set<std::int64_t> present;
    for (const auto& [k, c] : seen) present.insert(k.first);
    MESSAGE("missing: " << missing_ranges(present, r.published, [](std::uint64_t) { return true; }) << "\n"
                        << sites.logs());
  }
  MESSAGE(
      r.published << " records published at site A; at the hub's sink " << r.missing << " missing, "
                  << r.doubled << " written twice"
                  << std::string(r.consumer_made_anew ? "; a consumer ahead of its stream was made anew" : "")
                  << "\n"
                  << r.fs_log);
  return r;
}

}  // namespace

TEST_CASE("power cut at the hub, durability none: acknowledged records are lost") {
  auto r = power_cut_at_hub("none");
  CHECK(r.published > 0);
  // nats-server 2.9 fsyncs every 2 minutes: what the hub stored (and acknowledged) since then
  // was in the disk cache only.
  CHECK(r.missing > 0);
}

// (80 runs of the two sync cases under load lost and doubled nothing, after the janitor's purges
// were made whole-block and never emptying; before, 2 of about 14 lost every record after the cut:
// the stream came back empty at sequence 0 and the sink took new batches for replays.)
TEST_CASE("power cut at the hub, durability sync: nothing acknowledged is lost, nothing doubled") {
  auto r = power_cut_at_hub("sync");
  CHECK(r.published > 0);
  // The hub's receiver ran with the setting on, before the cut and after it.
  CHECK(r.synced_runs == 2);
  CHECK_FALSE(r.sync_off);
  CHECK(r.missing == 0);
  CHECK(r.doubled == 0);
}

// On ext4 the consumers' state files (rewritten whole: truncate, write, close) reach the disk
// within seconds while the tail of the stream's block file (appended) does not: after the cut a
// consumer can be ahead of its stream.
TEST_CASE("power cut at the hub on an ext4-like disk, durability sync: nothing acknowledged is lost") {
  auto r = power_cut_at_hub("sync", true);
  CHECK(r.published > 0);
  CHECK(r.synced_runs == 2);
  CHECK_FALSE(r.sync_off);
  CHECK(r.missing == 0);
  CHECK(r.doubled == 0);
}

// The figure only: how much goes depends on where the cut falls (nats-server's purges rewrite the
// block they cut, which ext4 keeps; what was appended since is lost), from one batch to half of
// the run; and a consumer may or may not come back ahead of its stream.
TEST_CASE("power cut at the hub on an ext4-like disk, durability none: what is lost") {
  auto r = power_cut_at_hub("none", true);
  CHECK(r.published > 0);
}

// What a power cut does to the hub's stream with nats-server 2.9, made here without a cut, while
// the hub is down: `empty`: its files removed, as after a cut right after a purge that emptied
// the stream (the new block's index, which alone holds the stream's last sequence, was not
// fsynced): the stream comes back empty at sequence 0. Otherwise its files replaced by a copy
// taken 1.5 s earlier, as after a cut that took back the stream's unsynced tail but not its
// consumers' state: the stream comes back shorter, holding only what its consumers handled. Both
// times the consumers remember being delivered further. The engine must not hand out those
// sequences again: the sink would take the new records for replays of the ones it wrote.
namespace {

void hub_stream_comes_back_short(bool empty) {
  namespace fs = std::filesystem;
  TempDir dir("weir-bridge-short");
  const auto out = dir.file("hub.ndjson");
  LinkOptions o;
  o.hub_settings = R"({"ack_wait": "2s"})";
  o.hub_sink = R"({ "id": "sink", "type": "file_output", "inputs": ["from_sites"], "config": { "path": ")" +
               out + R"(" } })";
  o.hub_store_dir = dir.file("hub-nats");
  TwoSites sites(o);
  auto& hub = sites.hub();
  sites.start();
  REQUIRE_MESSAGE(
      wait_until([&] { return hub.engine_log().find("link up from site") != std::string::npos; }, 30s, 50ms),
      sites.logs());
  const auto msgs_dirs = [&] {
    std::vector<fs::path> found;
    for (const auto& acc : fs::directory_iterator(o.hub_store_dir + "/jetstream"))
      if (fs::is_directory(acc.path() / "streams" / "WEIR_HUB" / "msgs"))
        found.push_back(acc.path() / "streams" / "WEIR_HUB" / "msgs");
    REQUIRE(found.size() == 1);
    return found.front();
  };
  PacedSource source(sites.site_a(), 1000);
  std::this_thread::sleep_for(1500ms);
  const auto snapshot = fs::path(dir.file("msgs-earlier"));
  if (!empty) fs::copy(msgs_dirs(), snapshot);
  std::this_thread::sleep_for(1500ms);
  // The hub goes down; its flow stream's files go with it, or back to the copy.
  hub.server().kill9();
  hub.kill_engine();
  const auto msgs = msgs_dirs();
  int removed = 0;
  for (const auto& f : fs::directory_iterator(msgs)) removed += fs::remove(f.path());
  REQUIRE(removed > 0);
  if (!empty) fs::copy(snapshot, msgs);
  std::this_thread::sleep_for(1s);
  hub.server().start();
  hub.start_engine();
  const auto back = source.published();  // records from here on were published with the hub back
  std::this_thread::sleep_for(4s);
  const auto published = source.stop();
  check_site_a_drained(sites);
  wait_lines(out, published, 30s, 4s);
  std::size_t lines = 0;
  auto seen = count_records(out, lines);
  // Removed at the hub: what its stream held that the sink had not written yet, which site A was
  // told were stored: those may be missing. Every record published once the hub was back must be
  // there, and nothing may be there twice.
  std::uint64_t missing = 0, doubled = 0;
  std::set<std::int64_t> present;
  for (const auto& [k, c] : seen) {
    present.insert(k.first);
    if (c > 1) doubled += static_cast<std::uint64_t>(c - 1);
  }
  for (auto i = back; i < published; ++i) missing += present.count(static_cast<std::int64_t>(i)) ? 0 : 1;
  MESSAGE(published << " published (" << published - back << " with the hub back); of those " << missing
                    << " missing at the sink; " << doubled << " written twice");
  CHECK(published - back > 1000);
  CHECK(hub.engine_log().find(empty ? "came back empty at sequence 0" : "handled all it holds") !=
        std::string::npos);
  CHECK(missing == 0);
  CHECK(doubled == 0);
  if (missing + doubled > 0) MESSAGE(sites.logs());
}

}  // namespace

TEST_CASE("the hub's stream comes back empty with its sequences forgotten: later records arrive once") {
  hub_stream_comes_back_short(true);
}

TEST_CASE(
    "the hub's stream comes back shorter than its consumers were delivered: later records arrive once") {
  hub_stream_comes_back_short(false);
}
