// Stream suite entry: nats_input (SRC) → sqlite_output, exactly once by the record id as the
// table's key (components/sqlite_output/README.md); the consumer reads every row of the table.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>

#include "stream_suite.hpp"

namespace weir::testing::stream {

namespace {

class SqliteStream : public NatsSourced {
 public:
  SqliteStream()
      : NatsSourced("stream", [](EngineRig& rig) {
          return R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"}, "components": [)" +
                 source_component("2s") + R"(,
            {"id": "sink", "type": "sqlite_output", "inputs": ["src"], "config": {"path": ")" +
                 rig.dir() + R"(/out.db", "table": "rows", "create_table": true, "busy_timeout": "500ms",
              "columns": [{"name": "n", "expr": "n", "type": "integer"}, {"name": "pad", "expr": "pad"}]}}]})";
        }) {}

  // Every row, in insertion order. The key is the record id, so two rows with the same n can only
  // come from one record written under two ids: counted apart, and failed, here.
  std::vector<std::int64_t> consumed() override {
    const std::string path = rig_.dir() + "/out.db";
    std::vector<std::int64_t> out;
    if (!std::filesystem::exists(path)) return out;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      sqlite3_close_v2(db);
      return out;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    // Before the engine created the table there is nothing to read.
    if (sqlite3_prepare_v2(db, "SELECT n FROM rows ORDER BY rowid", -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) out.push_back(sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT n), count(DISTINCT record_id) FROM rows", -1,
                           &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      const auto rows = sqlite3_column_int64(st, 0), distinct_n = sqlite3_column_int64(st, 1),
                 distinct_ids = sqlite3_column_int64(st, 2);
      CHECK_MESSAGE(rows == distinct_n, (rows - distinct_n) << " rows repeat an n under another record id");
      CHECK(rows == distinct_ids);
    }
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return out;
  }
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "sqlite";
  t.guarantee = Guarantee::exactly_once;
  t.disruption = "engine's NATS link cut (TcpProxy)";
  t.away = "engine's NATS link stalled (TcpProxy): sqlite_output has no external side to take away";
  return {{t, [] { return std::make_unique<SqliteStream>(); }}};
}

}  // namespace weir::testing::stream
