// weir.db: migrations, revisions, and sharing one file between connections.
#include "store/store.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <fstream>
#include <thread>

#include "core/json_source.hpp"
#include "store/migrations.hpp"
#include "support/nats_harness.hpp"

namespace fs = std::filesystem;
using namespace weir::store;
using weir::testing::TempDir;

namespace {

// A second, raw connection to look at (or prepare) the file the way another program would.
struct Raw {
  sqlite3* db = nullptr;
  explicit Raw(const fs::path& file) { REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK); }
  ~Raw() { sqlite3_close(db); }
  void exec(const std::string& sql) {
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
  }
};

std::string slurp(const fs::path& p) {
  return weir::core::read_file(p, nullptr);
}

Store open_ok(const fs::path& file) {
  auto s = Store::open(file);
  INFO(s.error());
  REQUIRE(s.ok());
  return std::move(s).value();
}

Revision record_ok(Store& s, const std::string& flow, const std::string& hash, const std::string& text = "{}",
                   bool added = true) {
  auto r = s.record(flow, hash, "file", flow + ".json", text);
  INFO(r.error());
  REQUIRE(r.ok());
  CHECK(r->added == added);
  return r->revision;
}

}  // namespace

TEST_CASE("migrations are numbered 1, 2, 3... without gaps") {
  const auto steps = migrations();
  REQUIRE(!steps.empty());
  for (std::size_t i = 0; i < steps.size(); ++i) CHECK(steps[i].version == static_cast<int>(i) + 1);
  CHECK(schema_version() == static_cast<int>(steps.size()));
}

TEST_CASE("an empty directory gets a migrated database in WAL mode") {
  TempDir tmp;
  const fs::path file = tmp.file("weir.db");
  {
    auto s = open_ok(file);
    CHECK(s.file() == file);
  }
  Raw raw(file);
  CHECK(raw.text("PRAGMA user_version") == std::to_string(schema_version()));
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  CHECK(raw.text("SELECT name FROM sqlite_master WHERE name = 'flow_revisions'") == "flow_revisions");
}

TEST_CASE("reopening keeps the data and migrates nothing twice") {
  TempDir tmp;
  const fs::path file = tmp.file("weir.db");
  {
    auto s = open_ok(file);
    record_ok(s, "a", "h1", "text 1");
  }
  for (int i = 0; i < 2; ++i) {
    auto s = open_ok(file);
    auto latest = s.latest("a");
    REQUIRE(latest.ok());
    REQUIRE(latest->has_value());
    CHECK((*latest)->text == "text 1");
  }
  Raw raw(file);
  CHECK(raw.text("PRAGMA user_version") == std::to_string(schema_version()));
}

TEST_CASE("a database from a newer weir is refused and left untouched") {
  TempDir tmp;
  const fs::path file = tmp.file("weir.db");
  {
    Raw raw(file);
    raw.exec("CREATE TABLE future (x INTEGER); PRAGMA user_version = " +
             std::to_string(schema_version() + 1));
  }
  const auto before = slurp(file);
  auto s = Store::open(file);
  REQUIRE(!s.ok());
  CHECK(s.error().find("newer weir") != std::string::npos);
  CHECK(s.error().find(file.string()) != std::string::npos);
  CHECK(slurp(file) == before);
  CHECK(!fs::exists(file.string() + "-wal"));
  Raw raw(file);
  CHECK(raw.text("PRAGMA journal_mode") == "delete");
}

TEST_CASE("a file that is not a database, a missing folder or a negative version is a clear error") {
  TempDir tmp;
  const fs::path junk = tmp.file("junk.db");
  std::ofstream(junk) << "this is not SQLite, just some text that is long enough to have a header......";
  auto s = Store::open(junk);
  REQUIRE(!s.ok());
  CHECK(s.error().find("not a database") != std::string::npos);

  auto missing = Store::open(fs::path(tmp.path()) / "no" / "such" / "weir.db");
  REQUIRE(!missing.ok());
  CHECK(missing.error().find("/no/such/weir.db") != std::string::npos);

  const fs::path negative = tmp.file("negative.db");
  Raw(negative).exec("PRAGMA user_version = -1");
  auto odd = Store::open(negative);
  REQUIRE(!odd.ok());
  CHECK(odd.error().find("unexpected schema version -1") != std::string::npos);
}

TEST_CASE("revisions are numbered per flow, deduplicated by hash, listed newest first") {
  TempDir tmp;
  auto s = open_ok(tmp.file("weir.db"));

  auto empty = s.latest("a");
  REQUIRE(empty.ok());
  CHECK(!empty->has_value());
  auto none = s.history("a");
  REQUIRE(none.ok());
  CHECK(none->empty());

  CHECK(record_ok(s, "a", "h1", "a one").rev == 1);
  CHECK(record_ok(s, "b", "h1", "b one").rev == 1);
  CHECK(record_ok(s, "a", "h2", "a two").rev == 2);
  // Same hash as the latest: nothing added, the latest comes back with its text.
  const auto same = record_ok(s, "a", "h2", "ignored", false);
  CHECK(same.rev == 2);
  CHECK(same.text == "a two");
  // An older hash again is a new revision (a rollback deploys old text as a new revision).
  const auto back = s.record("a", "h1", "api", "a.json", "a one");
  REQUIRE(back.ok());
  CHECK(back->added);
  CHECK(back->revision.rev == 3);
  CHECK(back->revision.source == "api");

  auto h = s.history("a");
  REQUIRE(h.ok());
  REQUIRE(h->size() == 3);
  CHECK((*h)[0].rev == 3);
  CHECK((*h)[1].rev == 2);
  CHECK((*h)[2].rev == 1);
  CHECK((*h)[0].hash == "h1");
  CHECK((*h)[1].source == "file");
  CHECK((*h)[2].file == "a.json");
  for (const auto& r : *h) {
    CHECK(r.flow == "a");
    CHECK(r.text.empty());
    CHECK(r.deployed_at_ms > 1'600'000'000'000);
  }
  CHECK((*h)[0].deployed_at_ms >= (*h)[2].deployed_at_ms);

  auto r2 = s.revision("a", 2);
  REQUIRE(r2.ok());
  REQUIRE(r2->has_value());
  CHECK((*r2)->text == "a two");
  CHECK((*r2)->hash == "h2");

  for (int rev : {0, 4, -1}) {
    auto missing = s.revision("a", rev);
    REQUIRE(missing.ok());  // not found is not an error
    CHECK(!missing->has_value());
  }
  auto other = s.revision("nope", 1);
  REQUIRE(other.ok());
  CHECK(!other->has_value());

  auto latest_b = s.latest("b");
  REQUIRE(latest_b.ok());
  REQUIRE(latest_b->has_value());
  CHECK((*latest_b)->rev == 1);
  CHECK((*latest_b)->text == "b one");
}

TEST_CASE("record refuses an unknown source or an empty flow name") {
  TempDir tmp;
  auto s = open_ok(tmp.file("weir.db"));
  auto bad = s.record("a", "h", "ftp", "a.json", "{}");
  REQUIRE(!bad.ok());
  CHECK(bad.error().find("ftp") != std::string::npos);
  CHECK(!s.record("", "h", "file", "a.json", "{}").ok());
  CHECK(s.history("a")->empty());
}

TEST_CASE("text and names are stored byte for byte") {
  TempDir tmp;
  auto s = open_ok(tmp.file("weir.db"));
  const std::string text = std::string("{\"x\": \"caf\xC3\xA9\"}\n") + std::string(1, '\0') + "tail";
  record_ok(s, "it's", "h", text);
  auto r = s.revision("it's", 1);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK((*r)->text == text);
}

TEST_CASE("two connections on one file and several threads on one Store all write") {
  TempDir tmp;
  const fs::path file = tmp.file("weir.db");
  auto shared = open_ok(file);
  auto other = open_ok(file);
  constexpr int per_thread = 40;
  auto writer = [&](Store& s, const std::string& tag) {
    for (int i = 0; i < per_thread; ++i) {
      auto r = s.record("a", tag + std::to_string(i), "file", "a.json", "{}");
      CHECK(r.ok());
    }
  };
  std::thread t1(writer, std::ref(shared), "x");
  std::thread t2(writer, std::ref(shared), "y");
  std::thread t3(writer, std::ref(other), "z");
  t1.join();
  t2.join();
  t3.join();

  for (Store* s : {&shared, &other}) {
    auto h = s->history("a");
    REQUIRE(h.ok());
    REQUIRE(h->size() == 3 * per_thread);
    for (std::size_t i = 0; i < h->size(); ++i) CHECK((*h)[i].rev == static_cast<int>(h->size() - i));
  }
}
