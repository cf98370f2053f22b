// powercut_fs itself: what survives a cut is exactly what was fsynced, plus metadata.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "support/nats_harness.hpp"
#include "support/powercut_mount.hpp"

using namespace weir::testing;

namespace {

int open_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  REQUIRE_MESSAGE(fd >= 0, path << ": " << std::strerror(errno));
  return fd;
}

void pwrite_all(int fd, const std::string& data, off_t off) {
  REQUIRE(::pwrite(fd, data.data(), data.size(), off) == static_cast<ssize_t>(data.size()));
}

void append(int fd, const std::string& data) {
  REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
}

// The whole file, or "<missing>".
std::string contents(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<missing>";
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    REQUIRE(n >= 0);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

off_t size_of(const std::string& path) {
  struct stat s {};
  REQUIRE(::stat(path.c_str(), &s) == 0);
  return s.st_size;
}

}  // namespace

TEST_CASE("powercut_fs: a cut keeps what was fsynced and metadata, and forgets other writes") {
  TempDir dir("weir-powercut");
  PowerCutMount fs(dir.file("backing"), dir.file("mnt"), dir.file("fs.log"));
  const auto m = [&](const std::string& name) { return fs.path() + "/" + name; };
  const auto b = [&](const std::string& name) { return fs.backing() + "/" + name; };

  // a: synced, then more appended.
  int a = open_file(m("a"), O_WRONLY | O_CREAT);
  append(a, "synced ");
  append(a, "part");
  REQUIRE(::fsync(a) == 0);
  append(a, " lost tail");
  // b: created and written, never synced.
  int bfd = open_file(m("b"), O_WRONLY | O_CREAT);
  append(bfd, "never synced");
  ::close(bfd);
  // c: synced (fdatasync), then overwritten in the middle.
  int c = open_file(m("c"), O_RDWR | O_CREAT);
  append(c, "0123456789");
  REQUIRE(::fdatasync(c) == 0);
  pwrite_all(c, "xx", 4);
  // d: synced, truncated (metadata: at once), written again.
  int d = open_file(m("d"), O_RDWR | O_CREAT);
  append(d, "abcdefgh");
  REQUIRE(::fsync(d) == 0);
  REQUIRE(::ftruncate(d, 3) == 0);
  pwrite_all(d, "XYZ", 3);
  // e: written new, then renamed over a synced file, without a sync (the classic lost rewrite).
  int e = open_file(m("e"), O_WRONLY | O_CREAT);
  append(e, "old contents");
  REQUIRE(::fsync(e) == 0);
  ::close(e);
  int e2 = open_file(m("e.new"), O_WRONLY | O_CREAT);
  append(e2, "new contents");
  ::close(e2);
  REQUIRE(::rename(m("e.new").c_str(), m("e").c_str()) == 0);
  // f: written through one descriptor, fsynced through a read-only one (as the engine does with
  // nats-server's files).
  int f = open_file(m("f"), O_WRONLY | O_CREAT);
  append(f, "written by one, synced by another");
  int f_ro = open_file(m("f"), O_RDONLY);
  REQUIRE(::fsync(f_ro) == 0);
  ::close(f_ro);
  // g: O_TRUNC of a synced file, then written.
  int g = open_file(m("g"), O_WRONLY | O_CREAT);
  append(g, "first version");
  REQUIRE(::fsync(g) == 0);
  ::close(g);
  g = open_file(m("g"), O_WRONLY | O_TRUNC);
  append(g, "second");
  ::close(g);
  REQUIRE(::mkdir(m("dir").c_str(), 0755) == 0);

  // Before the cut, readers see everything written.
  CHECK(contents(m("a")) == "synced part lost tail");
  CHECK(size_of(m("a")) == 21);
  CHECK(contents(m("b")) == "never synced");
  CHECK(contents(m("c")) == "0123xx6789");
  CHECK(contents(m("d")) == "abcXYZ");
  CHECK(contents(m("e")) == "new contents");
  CHECK(contents(m("g")) == "second");
  // ... while the backing files hold what is synced.
  CHECK(contents(b("a")) == "synced part");
  CHECK(contents(b("f")) == "written by one, synced by another");

  fs.cut();
  struct stat s {};
  CHECK(::stat(m("a").c_str(), &s) != 0);
  CHECK(errno == EIO);
  char byte = 0;
  CHECK(::write(a, &byte, 1) < 0);
  for (int fd : {a, c, d, f}) ::close(fd);
  fs.unmount();

  CHECK(contents(b("a")) == "synced part");
  CHECK(contents(b("b")).empty());  // created (metadata), its data never synced
  CHECK(contents(b("c")) == "0123456789");
  CHECK(contents(b("d")) == "abc");
  CHECK(contents(b("e")).empty());  // the rename survived, the data renamed in did not
  CHECK(contents(b("e.new")) == "<missing>");
  CHECK(contents(b("f")) == "written by one, synced by another");
  CHECK(contents(b("g")).empty());
  CHECK(std::filesystem::is_directory(b("dir")));

  // Power on: the mount shows the same.
  fs.mount();
  CHECK(contents(m("a")) == "synced part");
  CHECK(contents(m("c")) == "0123456789");
  CHECK(contents(m("d")) == "abc");
}

TEST_CASE("powercut_fs: a write-back (SIGUSR2) makes everything written so far survive a cut") {
  TempDir dir("weir-powercut");
  PowerCutMount fs(dir.file("backing"), dir.file("mnt"), dir.file("fs.log"));
  int fd = open_file(fs.path() + "/x", O_WRONLY | O_CREAT);
  append(fd, "before the write-back");
  ::close(fd);
  fs.flush_all();
  fd = open_file(fs.path() + "/x", O_WRONLY | O_APPEND);
  append(fd, ", after it");
  ::close(fd);
  CHECK(contents(fs.path() + "/x") == "before the write-back, after it");
  fs.cut();
  fs.unmount();
  CHECK(contents(fs.backing() + "/x") == "before the write-back");
}

TEST_CASE("powercut_fs: random overlapping writes read back as written, before and after fsync") {
  TempDir dir("weir-powercut");
  PowerCutMount fs(dir.file("backing"), dir.file("mnt"), dir.file("fs.log"));
  const auto path = fs.path() + "/r";
  int fd = open_file(path, O_RDWR | O_CREAT);
  std::string model;
  std::mt19937 rng(42);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 300; ++i) {
      const auto off = static_cast<off_t>(rng() % 6000);
      const auto len = static_cast<std::size_t>(1 + rng() % 700);
      std::string data(len, static_cast<char>('a' + rng() % 26));
      pwrite_all(fd, data, off);
      if (model.size() < static_cast<std::size_t>(off) + len)
        model.resize(static_cast<std::size_t>(off) + len, '\0');
      model.replace(static_cast<std::size_t>(off), len, data);
      if (i % 50 == 0) {
        const auto cut_to = static_cast<off_t>(rng() % (model.size() + 1));
        REQUIRE(::ftruncate(fd, cut_to) == 0);
        model.resize(static_cast<std::size_t>(cut_to));
      }
    }
    REQUIRE(contents(path) == model);
    REQUIRE(size_of(path) == static_cast<off_t>(model.size()));
    if (round == 1) {
      REQUIRE(::fsync(fd) == 0);
      REQUIRE(contents(fs.backing() + "/r") == model);
    }
  }
  ::close(fd);
}

TEST_CASE("powercut_fs --ext4-replace: replacements by truncate or rename survive, appends do not") {
  TempDir dir("weir-powercut");
  PowerCutMount fs(dir.file("backing"), dir.file("mnt"), dir.file("fs.log"), true);
  const auto m = [&](const std::string& name) { return fs.path() + "/" + name; };
  const auto b = [&](const std::string& name) { return fs.backing() + "/" + name; };
  int fd = open_file(m("state"), O_WRONLY | O_CREAT);
  append(fd, "version 1");
  REQUIRE(::fsync(fd) == 0);
  ::close(fd);
  fd = open_file(m("state"), O_WRONLY | O_TRUNC);  // os.WriteFile's pattern
  append(fd, "version 2");
  ::close(fd);
  fd = open_file(m("meta.new"), O_WRONLY | O_CREAT);
  append(fd, "renamed in");
  ::close(fd);
  int old_meta = open_file(m("meta"), O_WRONLY | O_CREAT);
  append(old_meta, "old");
  REQUIRE(::fsync(old_meta) == 0);
  ::close(old_meta);
  REQUIRE(::rename(m("meta.new").c_str(), m("meta").c_str()) == 0);
  int log = open_file(m("log"), O_WRONLY | O_CREAT);
  append(log, "kept");
  REQUIRE(::fsync(log) == 0);
  append(log, " appended");
  int fresh = open_file(m("fresh"), O_WRONLY | O_CREAT);
  append(fresh, "new file, closed, not replaced");
  ::close(fresh);
  fs.cut();
  ::close(log);
  fs.unmount();
  CHECK(contents(b("state")) == "version 2");
  CHECK(contents(b("meta")) == "renamed in");
  CHECK(contents(b("log")) == "kept");
  CHECK(contents(b("fresh")).empty());
}
