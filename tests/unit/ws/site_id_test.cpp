// A bridge's site name when `site` is not set: made once, kept in the data dir, the same at every
// start afterwards; a data dir that cannot keep it is an error that says to set `site`.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "common/websocket/frame.hpp"
#include "common/websocket/site_id.hpp"
#include "support/nats_harness.hpp"

namespace fs = std::filesystem;
using namespace weir::ws;
using weir::testing::TempDir;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("site_id: made once in the data dir, then the same name at every start") {
  TempDir dir{"weir-site"};
  SiteIdentity first;
  std::string error;
  REQUIRE_MESSAGE(resolve_site("", dir.path(), first, error), error);
  CHECK(valid_site_name(first.name));
  CHECK(first.origin == dir.file("site_id") + ", created now");
  CHECK(slurp(dir.file("site_id")) == first.name + "\n");
  CHECK(entries(dir.path()) == std::vector<std::string>{"site_id"});  // no temporary file left

  for (int start = 0; start < 3; ++start) {
    SiteIdentity again;
    REQUIRE_MESSAGE(resolve_site("", dir.path(), again, error), error);
    CHECK(again.name == first.name);
    CHECK(again.origin == dir.file("site_id"));
  }

  // A name written by hand (an operator moving a site to a new machine) is taken as it is.
  std::ofstream(dir.file("site_id")) << "plant-7\n";
  SiteIdentity by_hand;
  REQUIRE_MESSAGE(resolve_site("", dir.path(), by_hand, error), error);
  CHECK(by_hand.name == "plant-7");
}

TEST_CASE("site_id: a configured site wins and leaves the data dir alone") {
  TempDir dir{"weir-site"};
  SiteIdentity id;
  std::string error;
  REQUIRE(resolve_site("site-a", dir.path(), id, error));
  CHECK(id.name == "site-a");
  CHECK(id.origin == "config");
  CHECK(entries(dir.path()).empty());
  // Even without a data dir at all.
  REQUIRE(resolve_site("site-a", "", id, error));
  CHECK(id.name == "site-a");
}

TEST_CASE("site_id: components starting together all get the one name that was kept") {
  TempDir dir{"weir-site"};
  std::vector<SiteIdentity> ids(8);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (auto& id : ids)
    threads.emplace_back([&] {
      std::string error;
      if (!resolve_site("", dir.path(), id, error)) failures++;
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  std::set<std::string> names;
  for (const auto& id : ids) names.insert(id.name);
  CHECK(names.size() == 1);
  CHECK(slurp(dir.file("site_id")) == *names.begin() + "\n");
}

TEST_CASE("site_id: a data dir that cannot keep the name is an error that says to set `site`") {
  TempDir dir{"weir-site"};
  std::string error;
  SiteIdentity id;

  SUBCASE("the data dir is a file (fails for root too)") {
    std::ofstream(dir.file("plain")) << "x";
    const auto data_dir = dir.file("plain");
    CHECK_FALSE(resolve_site("", data_dir, id, error));
    CHECK(error.find(data_dir + "/site_id") != std::string::npos);
  }
  SUBCASE("the data dir is read-only") {
    if (::geteuid() == 0) {
      MESSAGE("running as root: permissions do not stop root, case skipped");
      return;
    }
    const auto data_dir = dir.file("ro");
    fs::create_directory(data_dir);
    fs::permissions(data_dir, fs::perms::owner_read | fs::perms::owner_exec);
    CHECK_FALSE(resolve_site("", data_dir, id, error));
    CHECK(error.find("Permission denied") != std::string::npos);
    CHECK(error.find("make the data dir writable") != std::string::npos);
    fs::permissions(data_dir, fs::perms::owner_all);
  }
  SUBCASE("no data dir") {
    CHECK_FALSE(resolve_site("", "", id, error));
  }
  SUBCASE("the file holds no valid name") {
    std::ofstream(dir.file("site_id")) << "not a name\n";
    CHECK_FALSE(resolve_site("", dir.path(), id, error));
    CHECK(error.find(dir.file("site_id") + " does not hold a site name") != std::string::npos);
    CHECK(slurp(dir.file("site_id")) == "not a name\n");  // never replaced behind the user's back
  }
  CHECK(error.find("set `site`") != std::string::npos);
}

TEST_CASE("site_id: a new name is the host name, made valid, and a random suffix") {
  const auto a = new_site_name("edge-01");
  CHECK(a.rfind("edge-01-", 0) == 0);
  CHECK(a.size() == std::string("edge-01-").size() + 8);
  CHECK(valid_site_name(a));
  CHECK(new_site_name("edge-01") != a);
  CHECK(new_site_name("my box/ü").rfind("my-box-", 0) == 0);
  CHECK(valid_site_name(new_site_name("my box/ü")));
  CHECK(valid_site_name(new_site_name(std::string(300, 'h'))));
  CHECK(new_site_name("").rfind("weir-", 0) == 0);
}
