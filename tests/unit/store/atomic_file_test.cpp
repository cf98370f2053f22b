#include "store/atomic_file.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "core/json_source.hpp"
#include "support/nats_harness.hpp"

namespace fs = std::filesystem;
using weir::store::write_file_atomically;
using weir::testing::TempDir;

namespace {

std::string slurp(const fs::path& p) {
  return weir::core::read_file(p, nullptr);
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

fs::perms perms_of(const fs::path& p) {
  return fs::status(p).permissions();
}

}  // namespace

TEST_CASE("a new file gets the text, the umask's permissions and no temp file beside it") {
  TempDir tmp;
  const fs::path target = tmp.file("a.json");
  const mode_t old_mask = ::umask(022);
  std::string error;
  const bool ok = write_file_atomically(target, "{\"name\": \"a\"}\n", &error);
  ::umask(old_mask);
  REQUIRE_MESSAGE(ok, error);
  CHECK(slurp(target) == "{\"name\": \"a\"}\n");
  CHECK(names_in(tmp.path()) == std::vector<std::string>{"a.json"});
  CHECK(perms_of(target) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read));
}

TEST_CASE("an existing file is replaced whole and keeps its permissions") {
  TempDir tmp;
  const fs::path target = tmp.file("a.json");
  std::ofstream(target) << std::string(10000, 'x');
  fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write);
  struct stat before {};
  REQUIRE(::stat(target.c_str(), &before) == 0);

  std::string error;
  REQUIRE_MESSAGE(write_file_atomically(target, "short", &error), error);
  CHECK(slurp(target) == "short");
  CHECK(perms_of(target) == (fs::perms::owner_read | fs::perms::owner_write));
  struct stat after {};
  REQUIRE(::stat(target.c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);  // a new file renamed in, not the old one rewritten
  CHECK(names_in(tmp.path()) == std::vector<std::string>{"a.json"});

  REQUIRE(write_file_atomically(target, "", &error));
  CHECK(fs::file_size(target) == 0);

  // Without the fsyncs (state a crash of the process must not lose, a power cut may): the same
  // replacement by a new file.
  REQUIRE_MESSAGE(write_file_atomically(target, "unsynced", &error, weir::store::Sync::no), error);
  CHECK(slurp(target) == "unsynced");
  CHECK(names_in(tmp.path()) == std::vector<std::string>{"a.json"});
}

TEST_CASE("a missing directory or a directory as target fails with the path and leaves nothing") {
  TempDir tmp;
  std::string error;
  CHECK(!write_file_atomically(fs::path(tmp.path()) / "nope" / "a.json", "x", &error));
  CHECK(error.find("/nope/") != std::string::npos);

  const fs::path dir = tmp.file("sub");
  fs::create_directory(dir);
  error.clear();
  CHECK(!write_file_atomically(dir, "x", &error));
  CHECK(!error.empty());
  CHECK(fs::is_directory(dir));
  CHECK(names_in(tmp.path()) == std::vector<std::string>{"sub"});
  CHECK(names_in(dir).empty());
}

TEST_CASE("a relative path writes into the current directory") {
  TempDir tmp;
  const auto old = fs::current_path();
  fs::current_path(tmp.path());
  std::string error;
  const bool ok = write_file_atomically("rel.json", "r", &error);
  fs::current_path(old);
  REQUIRE_MESSAGE(ok, error);
  CHECK(slurp(fs::path(tmp.path()) / "rel.json") == "r");
}
