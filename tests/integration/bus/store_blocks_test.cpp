// bus::block_first_seqs against a real nats-server's store: the boundaries it reads are those of
// the server's message blocks, and a purge up to one of them removes whole blocks and rewrites
// none of those that stay (the janitor of a flow that acknowledges only what is on disk relies on
// it: see src/runtime/janitor.hpp).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>

#include "bus/publisher.hpp"
#include "bus/store_sync.hpp"
#include "support/nats_fixture.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

// Each block file of stream B: name -> (inode, size).
std::map<std::string, std::pair<ino_t, off_t>> blocks(const std::string& store) {
  std::map<std::string, std::pair<ino_t, off_t>> out;
  for (const auto& acc : fs::directory_iterator(fs::path(store) / "jetstream")) {
    const auto msgs = acc.path() / "streams" / "B" / "msgs";
    if (!fs::is_directory(msgs)) continue;
    for (const auto& f : fs::directory_iterator(msgs)) {
      if (f.path().extension() != ".blk") continue;
      struct stat st {};
      REQUIRE(::stat(f.path().c_str(), &st) == 0);
      out[f.path().filename().string()] = {st.st_ino, st.st_size};
    }
  }
  return out;
}

}  // namespace

TEST_CASE("block_first_seqs: the store's block boundaries; a purge to one rewrites no block") {
  BusFixture f;
  bus::StreamSpec s;
  s.name = "B";
  s.subjects = {"b.>"};
  s.retention = bus::Retention::limits;
  s.max_bytes = 120000;  // nats-server 2.9 then cuts blocks of 32 kB
  REQUIRE(bus::ensure_stream(f.js.raw(), s).ok());
  auto pub = bus::AsyncPublisher::create(*f.conn);
  REQUIRE(pub.ok());
  const std::string body(1000, 'x');
  for (int i = 0; i < 100; ++i) REQUIRE(pub.value()->publish("b.x", body).ok());
  std::vector<bus::PublishFailure> failures;
  REQUIRE(pub.value()->wait_all(10s, failures).ok());
  REQUIRE(failures.empty());

  auto firsts = bus::block_first_seqs(f.server.store_dir(), "B");
  REQUIRE_MESSAGE(firsts.ok(), firsts.status().text());
  const auto& seqs = firsts.value();
  REQUIRE(seqs.size() >= 3);  // about 100 kB in blocks of 32 kB
  CHECK(seqs.front() == 1);
  CHECK(std::is_sorted(seqs.begin(), seqs.end()));
  CHECK(blocks(f.server.store_dir()).size() == seqs.size());

  // Purged up to the third block's first message: the first two blocks go, the others stay as
  // they were (same file, same size).
  const auto before = blocks(f.server.store_dir());
  REQUIRE(bus::purge_stream(f.js.raw(), "B", "", seqs[2]).ok());
  auto info = bus::stream_info(f.js.raw(), "B");
  REQUIRE(info.ok());
  CHECK(info->first_seq == seqs[2]);
  CHECK(info->last_seq == 100);
  const auto after = blocks(f.server.store_dir());
  CHECK(after.size() == seqs.size() - 2);
  for (const auto& [name, file] : after) {
    REQUIRE(before.count(name) == 1);
    CHECK(before.at(name) == file);
  }
  auto again = bus::block_first_seqs(f.server.store_dir(), "B");
  REQUIRE(again.ok());
  CHECK(again.value() == std::vector<std::uint64_t>(seqs.begin() + 2, seqs.end()));

  // (What the janitor avoids: a purge that takes most of a block rewrites that block.)
  REQUIRE(seqs.back() + 4 <= 100);
  REQUIRE(bus::purge_stream(f.js.raw(), "B", "", seqs.back() + (100 - seqs.back()) * 3 / 4 + 1).ok());
  const auto cut = blocks(f.server.store_dir());
  const auto last = std::prev(cut.end());
  CHECK(last->second.second < after.at(last->first).second);
}

TEST_CASE("block_first_seqs: an error for a stream the store does not hold") {
  BusFixture f;
  auto r = bus::block_first_seqs(f.server.store_dir(), "NOPE");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().text().find("NOPE") != std::string::npos);
}
