#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "support/component_testing.hpp"
#include "support/nats_harness.hpp"

using namespace weir;
using testing::parse_config;
using testing::write_ok;
namespace fs = std::filesystem;

namespace {

// A second connection to the file, as another program would have.
class Db {
 public:
  explicit Db(const std::string& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << msg);
  }
  // Every row of a query, each column as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK, sqlite3_errmsg(db_));
    std::vector<std::vector<std::string>> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        row.emplace_back(t ? t : "NULL");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  }
  std::string one(const std::string& sql) {
    auto r = rows(sql);
    REQUIRE(r.size() == 1);
    return r[0][0];
  }
  long count(const std::string& table = "t") { return std::stol(one("SELECT count(*) FROM " + table)); }

 private:
  sqlite3* db_ = nullptr;
};

const std::string columns = R"([{"name": "n", "expr": "n", "type": "integer"},
                                {"name": "f", "expr": "v * 9 / 5 + 32", "type": "real"},
                                {"name": "site", "expr": "site", "type": "text"}])";

std::string config_for(const std::string& path, const std::string& extra = "") {
  return R"({"path": ")" + path + R"(", "table": "t", "create_table": true, "columns": )" + columns + extra +
         "}";
}

std::vector<sdk::Record> numbered(int from, int to) {
  std::vector<sdk::Record> out;
  for (int i = from; i < to; ++i)
    out.push_back(testing::rec(R"({"n": )" + std::to_string(i) + R"(, "v": 20, "site": "a"})",
                               "id-" + std::to_string(i)));
  return out;
}

std::unique_ptr<sdk::Output> started(const std::string& config,
                                     const sdk::Context& ctx = testing::test_context()) {
  return testing::started<sdk::Output>("sqlite_output", config, ctx);
}

}  // namespace

TEST_CASE("sqlite_output: the README example parses") {
  auto p =
      parse_config("sqlite_output", R"({"path": "db/readings.db", "table": "readings", "create_table": true,
      "columns": [{"name": "sensor", "expr": "sensor", "type": "text"},
                  {"name": "value_f", "expr": "value * 9 / 5 + 32", "type": "real"},
                  {"name": "ts", "expr": "ts"}]})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("sqlite_output: path, table and columns are required") {
  auto p = parse_config("sqlite_output", "{}");
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/path"));
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/table"));
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/columns"));
  auto empty = parse_config("sqlite_output", R"({"path": "x.db", "table": "t", "columns": []})");
  CHECK(testing::has_diag(empty.diags, "invalid_value", "/components/0/config/columns"));
  auto no_expr =
      parse_config("sqlite_output", R"({"path": "x.db", "table": "t", "columns": [{"name": "a"}]})");
  CHECK(testing::has_diag(no_expr.diags, "missing_field", "/components/0/config/columns/0/expr"));
}

TEST_CASE("sqlite_output: unknown field, with a hint") {
  auto p = parse_config("sqlite_output", config_for("x.db", R"(, "lock_retrie": 3)"));
  REQUIRE(testing::has_diag(p.diags, "unknown_field", "/components/0/config/lock_retrie"));
  CHECK(p.diags.items()[0].hint == "did you mean \"lock_retries\"?");
}

TEST_CASE("sqlite_output: out-of-range and invalid values") {
  CHECK(testing::has_diag(parse_config("sqlite_output", config_for("x.db", R"(, "lock_retries": 101)")).diags,
                          "out_of_range", "/components/0/config/lock_retries"));
  CHECK(
      testing::has_diag(parse_config("sqlite_output", config_for("x.db", R"(, "synchronous": "off")")).diags,
                        "invalid_value", "/components/0/config/synchronous"));
  auto bad_type = parse_config(
      "sqlite_output",
      R"({"path": "x.db", "table": "t", "columns": [{"name": "a", "expr": "a", "type": "int"}]})");
  CHECK(testing::has_diag(bad_type.diags, "invalid_value", "/components/0/config/columns/0/type"));
  auto bad_expr = parse_config(
      "sqlite_output", R"({"path": "x.db", "table": "t", "columns": [{"name": "a", "expr": "a +"}]})");
  CHECK_FALSE(bad_expr.diags.empty());
  CHECK(bad_expr.config == nullptr);
  auto twice = parse_config("sqlite_output", R"({"path": "x.db", "table": "t",
      "columns": [{"name": "a", "expr": "a"}, {"name": "A", "expr": "b"}]})");
  CHECK(testing::has_diag(twice.diags, "invalid_value", "/components/0/config/columns"));
  auto id_clash = parse_config("sqlite_output", R"({"path": "x.db", "table": "t",
      "columns": [{"name": "record_id", "expr": "a"}]})");
  CHECK(testing::has_diag(id_clash.diags, "invalid_value", "/components/0/config/columns"));
  CHECK(testing::has_diag(parse_config("sqlite_output", R"({"path": "x.db", "table": "sqlite_master",
      "columns": [{"name": "a", "expr": "a"}]})")
                              .diags,
                          "invalid_value", "/components/0/config/table"));
  CHECK(testing::has_diag(parse_config("sqlite_output", R"({"path": ":memory:", "table": "t",
      "columns": [{"name": "a", "expr": "a"}]})")
                              .diags,
                          "invalid_value", "/components/0/config/path"));
}

TEST_CASE("sqlite_output: a lock wait longer than the flow's ack_wait is warned about") {
  auto lint = [](const std::string& extra, std::chrono::seconds ack_wait) {
    auto p = parse_config("sqlite_output", config_for("x.db", extra));
    REQUIRE(p.config != nullptr);
    REQUIRE(p.info->flow_lint);
    sdk::Diagnostics d;
    p.info->flow_lint(p.config.get(), sdk::FlowSettings{std::chrono::minutes(2), ack_wait}, d,
                      "/components/0/config");
    return d;
  };
  CHECK(lint("", std::chrono::seconds(10)).empty());  // the defaults fit the flow's default
  auto d = lint(R"(, "busy_timeout": "5s")", std::chrono::seconds(10));
  CHECK(testing::has_diag(d, "long_lock_wait", "/components/0/config/busy_timeout"));
  CHECK(lint(R"(, "busy_timeout": "5s", "lock_retries": 0)", std::chrono::seconds(10)).empty());
}

TEST_CASE("sqlite_output: create_table makes the id key and the typed columns; WAL mode") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  auto out = started(config_for(path));
  out->stop();
  Db db(path);
  CHECK(db.one("PRAGMA journal_mode") == "wal");
  // name, type, notnull, pk
  const auto info = db.rows("SELECT name, type, \"notnull\", pk FROM pragma_table_info('t') ORDER BY cid");
  const std::vector<std::vector<std::string>> want = {{"record_id", "TEXT", "1", "1"},
                                                      {"n", "INTEGER", "0", "0"},
                                                      {"f", "REAL", "0", "0"},
                                                      {"site", "TEXT", "0", "0"}};
  CHECK(info == want);
}

TEST_CASE("sqlite_output: columns mapped from expressions, each value stored as its type") {
  testing::TempDir dir;
  auto ctx = testing::test_context();
  ctx.data_dir = dir.path();
  auto out = started(R"({"path": "a/b/out.db", "table": "m", "create_table": true, "columns": [
      {"name": "n", "expr": "n", "type": "integer"},
      {"name": "f", "expr": "v * 9 / 5 + 32", "type": "real"},
      {"name": "label", "expr": "site + \"-\" + sensor", "type": "text"},
      {"name": "tags", "expr": "tags", "type": "json"},
      {"name": "raw", "expr": "$"},
      {"name": "flag", "expr": "v > 50"},
      {"name": "missing", "expr": "nothing.here", "type": "integer"}]})",
                     ctx);
  write_ok(*out,
           {testing::rec(R"({"n": 7.0, "v": 64, "site": "a", "sensor": "s1", "tags": ["x", 1]})", "r-1"),
            testing::rec(R"({"n": 8, "v": 21.5, "site": "b", "sensor": "s2"})", "r-2")});
  out->stop();
  Db db(dir.file("a/b/out.db"));
  const auto rows = db.rows(
      "SELECT record_id, n, typeof(n), f, typeof(f), label, tags, raw, flag, typeof(flag), typeof(missing) "
      "FROM m ORDER BY n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"r-1", "7", "integer", "147.2", "real", "a-s1", R"(["x",1])",
                                            R"({"n":7.0,"v":64,"site":"a","sensor":"s1","tags":["x",1]})",
                                            "1", "integer", "null"});
  CHECK(rows[1] == std::vector<std::string>{"r-2", "8", "integer", "70.7", "real", "b-s2", "NULL",
                                            R"({"n":8,"v":21.5,"site":"b","sensor":"s2"})", "0", "integer",
                                            "null"});
}

// Issue 15's replay check: the same records delivered again, alone, regrouped with new ones, and
// after a restart of the component, leave exactly one row each.
TEST_CASE("sqlite_output: a batch delivered again leaves exactly one row per record") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  auto out = started(config_for(path));
  write_ok(*out, numbered(0, 100));
  write_ok(*out, numbered(0, 100));
  auto regrouped = numbered(50, 150);
  write_ok(*out, regrouped);
  CHECK(testing::metric(*out, "rows_inserted") == 150);
  CHECK(testing::metric(*out, "rows_already_there") == 150);
  out->stop();
  auto again = started(config_for(path));
  write_ok(*again, numbered(0, 150));
  CHECK(testing::metric(*again, "rows_inserted") == 0);
  again->stop();
  Db db(path);
  CHECK(db.count() == 150);
  CHECK(db.one("SELECT count(DISTINCT n) FROM t") == "150");
  CHECK(db.one("SELECT min(n) || ' ' || max(n) FROM t") == "0 149");
}

TEST_CASE("sqlite_output: a record that cannot be mapped is rejected with the reason, the rest written") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  {
    Db setup(path);
    setup.exec("CREATE TABLE t (record_id TEXT PRIMARY KEY, n INTEGER, f REAL, site TEXT NOT NULL)");
  }
  auto out = started(R"({"path": ")" + path + R"(", "table": "t", "columns": [
      {"name": "n", "expr": "n", "type": "integer"},
      {"name": "f", "expr": "100 / v", "type": "real"},
      {"name": "site", "expr": "site"}]})");
  std::vector<sdk::Record> batch = {
      testing::rec(R"({"n": 1, "v": 4, "site": "a"})", "ok-1"),
      testing::rec(R"({"n": 2, "v": 0, "site": "a"})", "div-zero"),
      testing::rec(R"({"n": "three", "v": 4, "site": "a"})", "text-in-integer"),
      testing::rec(R"({"n": 4.5, "v": 4, "site": "a"})", "fraction-in-integer"),
      testing::rec(R"({"n": 5, "v": 4})", "null-site"),
      testing::rec(R"({"n": 6, "v": 4, "site": "b"})", ""),
      testing::rec(R"({"n": 7, "v": 5, "site": "c"})", "ok-7"),
  };
  sdk::Rejects rejects;
  auto st = out->write(batch, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  REQUIRE(rejects.items.size() == 5);
  CHECK(rejects.items[0].first == 1);
  CHECK(rejects.items[0].second.find("column f") != std::string::npos);
  CHECK(rejects.items[1].first == 2);
  CHECK(rejects.items[1].second == "column n: an integer column cannot take a string");
  CHECK(rejects.items[2].first == 3);
  CHECK(rejects.items[2].second.find("not a whole 64-bit number") != std::string::npos);
  CHECK(rejects.items[3].first == 4);
  CHECK(rejects.items[3].second.find("NOT NULL") != std::string::npos);
  CHECK(rejects.items[4].first == 5);
  CHECK(rejects.items[4].second.find("no id") != std::string::npos);
  CHECK(testing::metric(*out, "records_rejected") == 5);
  out->stop();
  Db db(path);
  CHECK(db.rows("SELECT record_id, n, f, site FROM t ORDER BY n") ==
        std::vector<std::vector<std::string>>{{"ok-1", "1", "25.0", "a"}, {"ok-7", "7", "20.0", "c"}});
}

TEST_CASE(
    "sqlite_output: a missing table, or one without a unique id column, fails start() with the reason") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  const std::string cfg =
      R"({"path": ")" + path + R"(", "table": "t", "columns": [{"name": "n", "expr": "n"}]})";
  auto missing = testing::create<sdk::Output>(parse_config("sqlite_output", cfg));
  auto st = missing->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("no such table") != std::string::npos);
  CHECK(st.error().find("create_table") != std::string::npos);
  {
    Db setup(path);
    setup.exec("CREATE TABLE t (record_id TEXT, n INTEGER)");
  }
  auto not_unique = testing::create<sdk::Output>(parse_config("sqlite_output", cfg));
  st = not_unique->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("PRIMARY KEY or UNIQUE") != std::string::npos);
}

TEST_CASE("sqlite_output: a database locked by another connection is retried, then the write fails") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  auto out = started(config_for(path, R"(, "busy_timeout": "50ms", "lock_retries": 2)"));
  write_ok(*out, numbered(0, 1));
  Db other(path);
  other.exec("BEGIN IMMEDIATE");
  other.exec("INSERT INTO t (record_id, n) VALUES ('other', -1)");
  sdk::Rejects rejects;
  auto st = out->write(numbered(1, 10), rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("locked") != std::string::npos);
  CHECK(st.error().find("the batch comes again") != std::string::npos);
  CHECK(testing::metric(*out, "lock_retries") == 2);
  CHECK(testing::metric(*out, "batches_failed_locked") == 1);
  other.exec("COMMIT");
  // The batch delivered again once the lock is gone: written whole.
  write_ok(*out, numbered(1, 10));
  out->stop();
  CHECK(Db(path).count() == 11);
}

TEST_CASE("sqlite_output: a lock released while the write waits for it: the batch is written") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  auto out = started(config_for(path, R"(, "busy_timeout": "30s", "lock_retries": 0)"));
  Db other(path);
  other.exec("BEGIN IMMEDIATE");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    other.exec("COMMIT");
  });
  sdk::Rejects rejects;
  auto st = out->write(numbered(0, 5), rejects);
  release.join();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  CHECK(testing::metric(*out, "lock_retries") == 0);
  out->stop();
  CHECK(Db(path).count() == 5);
}

TEST_CASE("sqlite_output: interrupt() ends a write waiting for a lock") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  auto out = started(config_for(path, R"(, "busy_timeout": "60s")"));
  Db other(path);
  other.exec("BEGIN IMMEDIATE");
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    out->interrupt();
  });
  sdk::Rejects rejects;
  auto st = out->write(numbered(0, 5), rejects);
  stopper.join();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("stopping") != std::string::npos);
  out->stop();
  other.exec("COMMIT");
  CHECK(Db(path).count() == 0);
}

// SQLite's own full path: max_size is max_page_count, past which SQLite answers SQLITE_FULL as
// on a full disk.
TEST_CASE("sqlite_output: a full database rolls the batch back whole and returns an error") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  auto out = started(config_for(path, R"(, "max_size": "64KiB")"));
  write_ok(*out, numbered(0, 10));
  std::vector<sdk::Record> big;
  for (int i = 10; i < 200; ++i)
    big.push_back(testing::rec(
        R"({"n": )" + std::to_string(i) + R"(, "v": 1, "site": ")" + std::string(1000, 'x') + "\"}",
        "id-" + std::to_string(i)));
  sdk::Rejects rejects;
  auto st = out->write(big, rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("full") != std::string::npos);
  CHECK(st.error().find("rolled back") != std::string::npos);
  CHECK(rejects.items.empty());
  CHECK(testing::metric(*out, "batches_failed_full") == 1);
  {
    Db db(path);
    CHECK(db.count() == 10);  // nothing of the failed batch
  }
  // Still usable: a batch that fits is written.
  write_ok(*out, numbered(10, 20));
  out->stop();
  CHECK(Db(path).count() == 20);
}

TEST_CASE("sqlite_output: synchronous normal writes the same rows") {
  testing::TempDir dir;
  const auto path = dir.file("out.db");
  auto out = started(config_for(path, R"(, "synchronous": "normal")"));
  write_ok(*out, {});
  write_ok(*out, numbered(0, 50));
  write_ok(*out, numbered(0, 50));
  out->stop();
  CHECK(Db(path).count() == 50);
}
