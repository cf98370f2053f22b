// `weir flows history|rollback` against the real binary and a database prepared by the Store.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/json_source.hpp"
#include "store/store.hpp"
#include "support/nats_harness.hpp"

namespace fs = std::filesystem;
using weir::testing::TempDir;

namespace {

std::string slurp(const fs::path& p) {
  return weir::core::read_file(p, nullptr);
}

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

// A config file naming data/ and flows/ beside it, and a database with three revisions of "a"
// (a.json) and one of "b".
struct Setup {
  TempDir tmp{"weir-flows-cli"};
  fs::path root{tmp.path()};
  fs::path config = root / "weir.json";
  fs::path flows = root / "flows";
  fs::path data = root / "data";

  Setup() {
    fs::create_directories(flows);
    fs::create_directories(data);
    std::ofstream(config) << R"({"data_dir": "data", "flows_dir": "flows"})";
    auto s = weir::store::Store::open(data / "weir.db");
    REQUIRE(s.ok());
    for (int i = 1; i <= 3; ++i)
      REQUIRE(
          s->record("a", "hash" + std::to_string(i) + "-0123456789abcdef", "file", "a.json", text(i)).ok());
    REQUIRE(s->record("b", "bbbb", "api", "b.json", "b text").ok());
    std::ofstream(flows / "a.json") << text(3);
  }

  static std::string text(int rev) { return "{\"name\": \"a\", \"rev\": " + std::to_string(rev) + "}\n"; }

  Run weir(const std::string& args) const {
    const char* bin = std::getenv("WEIR_BIN");
    REQUIRE_MESSAGE(bin != nullptr, "WEIR_BIN is not set (meson sets it)");
    const auto out = root / "out.txt", err = root / "err.txt";
    const std::string cmd = std::string(bin) + " " + args + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(cmd.c_str());
    Run r;
    REQUIRE(WIFEXITED(status));
    r.code = WEXITSTATUS(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }
};

}  // namespace

TEST_CASE("history prints a table, newest first, the latest marked") {
  Setup s;
  const auto r = s.weir("flows history a -c " + s.config.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::istringstream lines(r.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  REQUIRE(rows.size() == 4);
  CHECK(std::regex_search(rows[0], std::regex("^REV +DEPLOYED +SOURCE +HASH +FILE$")));
  const std::regex row(
      R"(^(\d) +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +file +(hash\d-012345) +a\.json( +\(latest\))?$)");
  for (int i = 1; i <= 3; ++i) {
    std::smatch m;
    INFO(rows[i]);
    REQUIRE(std::regex_match(rows[i], m, row));
    CHECK(m[1] == std::to_string(4 - i));
    CHECK(m[2] == "hash" + std::to_string(4 - i) + "-012345");  // the first 12 characters
    CHECK(m[3].matched == (i == 1));
  }
}

TEST_CASE("history --json gives every field and the full hash") {
  Setup s;
  const auto r = s.weir("flows history b --json --data-dir " + s.data.string() + " -c " + s.config.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto v = boost::json::parse(r.out);
  REQUIRE(v.as_array().size() == 1);
  const auto& o = v.as_array()[0].as_object();
  CHECK(o.at("flow") == "b");
  CHECK(o.at("rev") == 1);
  CHECK(o.at("hash") == "bbbb");
  CHECK(o.at("source") == "api");
  CHECK(o.at("file") == "b.json");
  CHECK(o.at("latest") == true);
  CHECK(o.at("deployed_at_ms").as_int64() > 1'600'000'000'000);
  CHECK(o.at("deployed_at").as_string().ends_with("Z"));
}

TEST_CASE("rollback writes the revision's text into the flow's file") {
  Setup s;
  const auto r = s.weir("flows rollback a 1 -c " + s.config.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(slurp(s.flows / "a.json") == Setup::text(1));
  CHECK(r.out.find("hot reload") != std::string::npos);
  // Nothing recorded: the engine records the revision when it deploys the file.
  auto db = weir::store::Store::open(s.data / "weir.db");
  REQUIRE(db.ok());
  CHECK(db->history("a")->size() == 3);

  const auto again = s.weir("flows rollback a 1 -c " + s.config.string());
  CHECK(again.code == 0);
  CHECK(again.out.find("nothing written") != std::string::npos);
}

TEST_CASE("unknown flows and revisions, and a missing database, exit 1 with a message") {
  Setup s;
  const std::string cfg = " -c " + s.config.string();
  auto r = s.weir("flows rollback a 9" + cfg);
  CHECK(r.code == 1);
  CHECK(r.err.find("no revision 9") != std::string::npos);
  CHECK(slurp(s.flows / "a.json") == Setup::text(3));

  r = s.weir("flows rollback zz 1" + cfg);
  CHECK(r.code == 1);
  CHECK(r.err.find("no revisions of flow \"zz\"") != std::string::npos);

  r = s.weir("flows history zz" + cfg);
  CHECK(r.code == 1);
  CHECK(r.err.find("no revisions of flow \"zz\"") != std::string::npos);

  const auto elsewhere = s.root / "elsewhere";
  r = s.weir("flows history a --data-dir " + elsewhere.string() + cfg);
  CHECK(r.code == 1);
  CHECK(r.err.find("no database at") != std::string::npos);
  CHECK(!fs::exists(elsewhere));  // nothing created

  r = s.weir("flows rollback a 0" + cfg);
  CHECK(r.code == 2);  // a usage error
}
