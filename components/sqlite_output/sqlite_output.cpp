#include "sqlite_output/sqlite_output.hpp"

#include <sqlite3.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <mutex>

#include "sdk/base/json_read.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/base/units.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::sqlite_output {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

// An SQL identifier in double quotes, so that any name (a keyword, a space) is taken as a name.
std::string ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

const char* sql_type(ColumnType t) {
  switch (t) {
    case ColumnType::integer:
      return " INTEGER";
    case ColumnType::real:
      return " REAL";
    case ColumnType::text:
    case ColumnType::json:
      return " TEXT";
    case ColumnType::any:
      break;
  }
  return "";
}

const char* type_name(ColumnType t) {
  switch (t) {
    case ColumnType::integer:
      return "integer";
    case ColumnType::real:
      return "real";
    case ColumnType::text:
      return "text";
    case ColumnType::json:
      return "json";
    case ColumnType::any:
      break;
  }
  return "any";
}

// Failures of a whole batch, as counted in the metrics.
enum class Failure { locked, full, io, other };

Failure classify(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Failure::locked;
    case SQLITE_FULL:
      return Failure::full;
    case SQLITE_IOERR:
      return Failure::io;
    default:
      return Failure::other;
  }
}

// A row SQLite refuses while the transaction goes on: a constraint of the table (NOT NULL, CHECK,
// another UNIQUE key, a STRICT table's type), a value too big.
bool row_error(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH || primary == SQLITE_TOOBIG;
}

// Binds `v` for a column of type `t` at `index`, or says why the column cannot take it. `text`
// holds JSON text until the statement has run (bound without a copy).
bool bind_value(sqlite3_stmt* st, int index, ColumnType t, const json::value& v, std::string& text,
                std::string& why) {
  auto refuse = [&] {
    why = std::string(t == ColumnType::integer ? "an " : "a ") + type_name(t) + " column cannot take " +
          sdk::kind_name(v);
    return false;
  };
  auto as_json = [&] {
    text.clear();
    sdk::write_json(text, v);
    return sqlite3_bind_text(st, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC) ==
           SQLITE_OK;
  };
  constexpr double two63 = 9223372036854775808.0;
  switch (v.kind()) {
    case json::kind::null:
      return sqlite3_bind_null(st, index) == SQLITE_OK;
    case json::kind::bool_:
      if (t == ColumnType::json) return as_json();
      if (t != ColumnType::any && t != ColumnType::integer) return refuse();
      return sqlite3_bind_int64(st, index, v.get_bool() ? 1 : 0) == SQLITE_OK;
    case json::kind::int64:
      if (t == ColumnType::json) return as_json();
      if (t == ColumnType::text) return refuse();
      if (t == ColumnType::real)
        return sqlite3_bind_double(st, index, static_cast<double>(v.get_int64())) == SQLITE_OK;
      return sqlite3_bind_int64(st, index, v.get_int64()) == SQLITE_OK;
    case json::kind::uint64:
      if (t == ColumnType::json) return as_json();
      if (t == ColumnType::text) return refuse();
      if (t == ColumnType::integer) {
        if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          why = "an integer column cannot take " + std::to_string(v.get_uint64()) + " (past 64-bit signed)";
          return false;
        }
        return sqlite3_bind_int64(st, index, static_cast<std::int64_t>(v.get_uint64())) == SQLITE_OK;
      }
      return sqlite3_bind_double(st, index, static_cast<double>(v.get_uint64())) == SQLITE_OK;
    case json::kind::double_: {
      const double d = v.get_double();
      if (t == ColumnType::json) return as_json();
      if (t == ColumnType::text) return refuse();
      if (t == ColumnType::integer) {
        // JSON does not tell 64 from 64.0: a whole double is the integer it spells.
        if (d != std::trunc(d) || d < -two63 || d >= two63) {
          text.clear();
          sdk::write_json(text, v);
          why = "an integer column cannot take " + text + " (not a whole 64-bit number)";
          return false;
        }
        return sqlite3_bind_int64(st, index, static_cast<std::int64_t>(d)) == SQLITE_OK;
      }
      return sqlite3_bind_double(st, index, d) == SQLITE_OK;
    }
    case json::kind::string: {
      if (t == ColumnType::json) return as_json();
      if (t != ColumnType::any && t != ColumnType::text) return refuse();
      const auto& s = v.get_string();
      return sqlite3_bind_text(st, index, s.data(), static_cast<int>(s.size()), SQLITE_STATIC) == SQLITE_OK;
    }
    case json::kind::array:
    case json::kind::object:
      if (t != ColumnType::any && t != ColumnType::json) return refuse();
      return as_json();
  }
  return refuse();
}

class SqliteOutput final : public sdk::Output {
 public:
  SqliteOutput(const Config& config, const sdk::Context& ctx) : config_(config), log_(ctx.log) {
    path_ = config.path;
    if (path_.is_relative() && !ctx.data_dir.empty()) path_ = ctx.data_dir / path_;
    values_.resize(config_.columns.size());
    texts_.resize(config_.columns.size());
  }

  ~SqliteOutput() override { close(); }

  sdk::Status start() override {
    close();  // a start after a start: the file is opened again
    interrupted_ = false;
    std::error_code ec;
    if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
    if (ec) return sdk::Status::error("cannot create " + path_.parent_path().string() + ": " + ec.message());
    if (auto st = open(); !st) {
      close();
      return st;
    }
    log_.info("writing to table {} of {} (synchronous {})", config_.table, path_.string(),
              config_.synchronous == Synchronous::full ? "FULL" : "NORMAL");
    return sdk::Status::ok();
  }

  void stop() override { close(); }

  // Wakes a write waiting for a lock (see wait_busy) and interrupts a running statement; the
  // write returns an error and the batch comes again.
  void interrupt() override {
    std::lock_guard lk(mu_);
    interrupted_ = true;
    cv_.notify_all();
    if (db_) sqlite3_interrupt(db_);
  }

  // One transaction per batch. A record id already in the table is a replay: ON CONFLICT DO
  // NOTHING leaves its row as it is. A lock held by another connection is waited for (the busy
  // handler), and the whole transaction tried again up to lock_retries times; any other failure
  // rolls the batch back and returns an error, so that it comes again whole.
  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects& rejects) override {
    if (!db_) return sdk::Status::error("sqlite_output is not started");
    if (records.empty()) return sdk::Status::ok();  // no transaction, no lock taken for nothing
    for (int attempt = 0;; ++attempt) {
      Pass pass;
      const int rc = write_once(records, pass);
      if (rc == SQLITE_OK) {
        rows_inserted_.fetch_add(pass.inserted);
        rows_present_.fetch_add(pass.present);
        rejected_.fetch_add(pass.rejects.size());
        for (auto& [i, why] : pass.rejects) rejects.add(i, std::move(why));
        if (attempt > 0) log_.info("batch written after {} retries for the lock", attempt);
        return sdk::Status::ok();
      }
      if (interrupted_) return sdk::Status::error("stopping (" + pass.error + "): the batch comes again");
      const auto failure = classify(rc);
      if (failure == Failure::locked && attempt < config_.lock_retries) {
        lock_retries_.fetch_add(1);
        log_.warn("{}: {}; trying the batch again ({} of {})", path_.string(), pass.error, attempt + 1,
                  config_.lock_retries);
        continue;
      }
      return fail(failure, pass.error, attempt);
    }
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    auto counter = [&](const char* name, const std::atomic<std::uint64_t>& v, const char* help) {
      out.push_back({name, static_cast<double>(v.load()), false, help});
    };
    counter("rows_inserted", rows_inserted_, "rows inserted");
    counter("rows_already_there", rows_present_,
            "records of batches delivered again whose row was there already (left as it was)");
    counter("records_rejected", rejected_,
            "records sent to the error port (a column's expression or type, a constraint of the table)");
    counter("lock_retries", lock_retries_, "batches tried again after the database stayed locked");
    counter("batches_failed_locked", failed_[0], "batches given back: the database stayed locked");
    counter("batches_failed_full", failed_[1], "batches given back: disk or max_size full (SQLITE_FULL)");
    counter("batches_failed_io", failed_[2], "batches given back: an I/O error (SQLITE_IOERR)");
    counter("batches_failed_other", failed_[3], "batches given back for another SQLite error");
  }

 private:
  struct Pass {
    std::vector<std::pair<std::size_t, std::string>> rejects;
    std::uint64_t inserted = 0, present = 0;
    std::string error;
  };

  sdk::Status fail(Failure failure, const std::string& error, int attempt) {
    failed_[static_cast<std::size_t>(failure)].fetch_add(1);
    std::string text = path_.string() + ": " + error;
    switch (failure) {
      case Failure::locked:
        text += fmt::format(" (still locked after {} tries of busy_timeout {} ms)", attempt + 1,
                            duration_cast<milliseconds>(config_.busy_timeout).count());
        break;
      case Failure::full:
        text += config_.max_size.bytes > 0 ? " (the disk, or max_size, is full)" : " (the disk is full)";
        break;
      case Failure::io:
        text += " (an I/O error)";
        break;
      case Failure::other:
        break;
    }
    text += ": rolled back, the batch comes again";
    log_.error("{}", text);
    return sdk::Status::error(std::move(text));
  }

  int exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }

  // Returns SQLITE_OK once committed; otherwise the batch is rolled back and pass.error says why.
  int write_once(std::span<const sdk::Record> records, Pass& pass) {
    auto failed = [&](int rc) {
      pass.error = sqlite3_errmsg(db_);
      if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");
      return rc;
    };
    if (interrupted_) {
      pass.error = "stopping";
      return SQLITE_INTERRUPT;
    }
    if (const int rc = exec("BEGIN IMMEDIATE"); rc != SQLITE_OK) return failed(rc);
    std::string why;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (!bind_record(records[i], why)) {
        pass.rejects.emplace_back(i, std::move(why));
        continue;
      }
      const int rc = sqlite3_step(insert_);
      if (rc == SQLITE_DONE) {
        if (sqlite3_changes(db_) > 0)
          ++pass.inserted;
        else
          ++pass.present;
        sqlite3_reset(insert_);
        continue;
      }
      if (row_error(rc)) {
        pass.rejects.emplace_back(i, std::string("the table refused the row: ") + sqlite3_errmsg(db_));
        sqlite3_reset(insert_);
        continue;
      }
      const int result = failed(rc);
      sqlite3_reset(insert_);
      return result;
    }
    if (const int rc = exec("COMMIT"); rc != SQLITE_OK) return failed(rc);
    return SQLITE_OK;
  }

  bool bind_record(const sdk::Record& rec, std::string& why) {
    if (rec.id.empty()) {
      why = "the record has no id, which the table's key needs";
      return false;
    }
    if (sqlite3_bind_text(insert_, 1, rec.id.data(), static_cast<int>(rec.id.size()), SQLITE_STATIC) !=
        SQLITE_OK) {
      why = std::string("cannot bind the record id: ") + sqlite3_errmsg(db_);
      return false;
    }
    sdk::expr::EvalError err;
    for (std::size_t c = 0; c < config_.columns.size(); ++c) {
      const auto& col = config_.columns[c];
      if (!col.expr.program->eval(rec.value, values_[c], err)) {
        why = "column " + col.name + ": " + err.message;
        return false;
      }
      if (!bind_value(insert_, static_cast<int>(c) + 2, col.type, values_[c], texts_[c], why)) {
        why = "column " + col.name + ": " + (why.empty() ? std::string(sqlite3_errmsg(db_)) : why);
        return false;
      }
    }
    return true;
  }

  static int on_busy(void* self, int count) noexcept {
    try {
      return static_cast<SqliteOutput*>(self)->wait_busy(count) ? 1 : 0;
    } catch (...) {
      return 0;
    }
  }

  // SQLite's busy handler: true to try the lock again. Waits in growing steps up to busy_timeout
  // in all, as sqlite3_busy_timeout would, but wakes at once on interrupt().
  bool wait_busy(int count) {
    static constexpr std::array<int, 12> steps_ms = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    const auto now = std::chrono::steady_clock::now();
    if (count == 0) busy_since_ = now;
    const auto waited = now - busy_since_;
    if (waited >= config_.busy_timeout) return false;
    auto step = milliseconds(static_cast<std::size_t>(count) < steps_ms.size()
                                 ? steps_ms[static_cast<std::size_t>(count)]
                                 : steps_ms.back());
    const auto wait = std::min<std::chrono::nanoseconds>(step, config_.busy_timeout - waited);
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, wait, [this] { return interrupted_.load(); });
    return !interrupted_;
  }

  sdk::Status open() {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    {
      std::lock_guard lk(mu_);
      db_ = db;
    }
    if (rc != SQLITE_OK) return error("cannot open");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_handler(db_, &SqliteOutput::on_busy, this);
    if (auto st = use_wal(); !st) return st;
    const std::string sync =
        std::string("PRAGMA synchronous = ") + (config_.synchronous == Synchronous::full ? "FULL" : "NORMAL");
    if (exec(sync.c_str()) != SQLITE_OK) return error("cannot set synchronous");
    if (auto st = limit_size(); !st) return st;
    if (config_.create_table && exec(create_sql().c_str()) != SQLITE_OK)
      return error("cannot create table " + sdk::quote(config_.table));
    const std::string insert = insert_sql();
    if (sqlite3_prepare_v3(db_, insert.c_str(), static_cast<int>(insert.size()), SQLITE_PREPARE_PERSISTENT,
                           &insert_, nullptr) != SQLITE_OK) {
      std::string msg = sqlite3_errmsg(db_);
      std::string hint;
      if (msg.find("ON CONFLICT") != std::string::npos)
        hint =
            " (the id column " + sdk::quote(config_.id_column) + " needs a PRIMARY KEY or UNIQUE constraint)";
      else if (msg.find("no such table") != std::string::npos)
        hint = " (set create_table: true, or create it)";
      return sdk::Status::error(path_.string() + ": cannot insert into " + sdk::quote(config_.table) + ": " +
                                msg + hint);
    }
    return sdk::Status::ok();
  }

  // Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once,
  // without the busy handler, when another connection holds the file: tried for busy_timeout.
  sdk::Status use_wal() {
    const auto deadline = std::chrono::steady_clock::now() + config_.busy_timeout;
    for (;;) {
      sqlite3_stmt* st = nullptr;
      int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode = WAL", -1, &st, nullptr);
      if (rc == SQLITE_OK) rc = sqlite3_step(st);
      std::string mode;
      if (rc == SQLITE_ROW) mode = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
      if (rc == SQLITE_ROW) {
        if (mode == "wal") return sdk::Status::ok();
        return sdk::Status::error(path_.string() + ": journal_mode is \"" + mode +
                                  "\", not \"wal\" (is the file on a network file system?)");
      }
      if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline || interrupted_)
        return error("cannot set journal_mode=WAL");
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, milliseconds(10), [this] { return interrupted_.load(); });
    }
  }

  // max_size as SQLite's max_page_count: past it a write fails with SQLITE_FULL, as on a full disk.
  sdk::Status limit_size() {
    if (config_.max_size.bytes == 0) return sdk::Status::ok();
    const std::uint64_t page = static_cast<std::uint64_t>(pragma_int("PRAGMA page_size"));
    if (page == 0) return error("cannot read page_size");
    const std::uint64_t pages = std::max<std::uint64_t>(1, config_.max_size.bytes / page);
    const auto set = pragma_int(("PRAGMA max_page_count = " + std::to_string(pages)).c_str());
    if (set < 0) return error("cannot set max_page_count");
    if (static_cast<std::uint64_t>(set) > pages)
      log_.warn("{} is already larger than max_size ({} pages of {} bytes): every write will fail",
                path_.string(), set, page);
    return sdk::Status::ok();
  }

  std::int64_t pragma_int(const char* sql) {
    sqlite3_stmt* st = nullptr;
    std::int64_t out = -1;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return out;
  }

  std::string create_sql() const {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + ident(config_.table) + " (" + ident(config_.id_column) +
                      " TEXT NOT NULL PRIMARY KEY";
    for (const auto& c : config_.columns) sql += ", " + ident(c.name) + sql_type(c.type);
    return sql + ")";
  }

  std::string insert_sql() const {
    std::string sql = "INSERT INTO " + ident(config_.table) + " (" + ident(config_.id_column);
    std::string params = "?1";
    for (std::size_t i = 0; i < config_.columns.size(); ++i) {
      sql += ", " + ident(config_.columns[i].name);
      params += ", ?" + std::to_string(i + 2);
    }
    return sql + ") VALUES (" + params + ") ON CONFLICT (" + ident(config_.id_column) + ") DO NOTHING";
  }

  sdk::Status error(const std::string& what) const {
    return sdk::Status::error(path_.string() + ": " + what + ": " +
                              (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }

  void close() {
    std::lock_guard lk(mu_);
    sqlite3_finalize(insert_);
    insert_ = nullptr;
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  Config config_;
  sdk::Log log_;
  fs::path path_;
  // db_ is set and cleared under mu_ (interrupt() reads it from another thread); every other use
  // is by the one thread that calls start, write and stop.
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::vector<json::value> values_;  // per column, reused from record to record
  std::vector<std::string> texts_;   // per column: JSON text bound without a copy
  std::chrono::steady_clock::time_point busy_since_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> interrupted_{false};
  std::atomic<std::uint64_t> rows_inserted_{0}, rows_present_{0}, rejected_{0}, lock_retries_{0};
  std::array<std::atomic<std::uint64_t>, 4> failed_{};  // by Failure
};

}  // namespace

sdk::ObjectSpec<Column> Column::object_spec() {
  using sdk::field;
  return sdk::ObjectSpec<Column>{}
      .field("name", &Column::name, field().required().not_empty().doc("The column's name in the table."))
      .field("expr", &Column::expr,
             field()
                 .required()
                 .doc("Expression over the record whose value the column gets (a missing field is "
                      "NULL).")
                 .example("value * 9 / 5 + 32"))
      .field(
          "type", &Column::type,
          field()
              .option(
                  "any", ColumnType::any,
                  "No declared type: null as NULL, a boolean as 1/0, numbers as INTEGER or REAL, a string "
                  "as TEXT, an array or object as its JSON text.")
              .option("integer", ColumnType::integer,
                      "INTEGER: a whole number (64 and 64.0 alike) or a boolean as 1/0; anything else is "
                      "rejected.")
              .option("real", ColumnType::real, "REAL: any number; anything else is rejected.")
              .option("text", ColumnType::text, "TEXT: a string; anything else is rejected.")
              .option("json", ColumnType::json, "TEXT holding the value as compact JSON (null stays NULL).")
              .doc("What the column takes, and its SQL type when create_table creates the table."));
}

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  using namespace std::chrono_literals;
  return sdk::ComponentSpec<Config>{"sqlite_output"}
      .summary("Writes records as rows of a table in a SQLite database file, exactly once.")
      .description(
          "Each record becomes one row: every column gets the value of its expression over the record, "
          "and `id_column` gets the record's id, a PRIMARY KEY or UNIQUE key of the table. A batch is "
          "one transaction (WAL mode), acknowledged only once committed; a record whose id is already "
          "in the table (a batch delivered again) is left as it is, so each record is written once. A "
          "record whose column cannot be computed or stored goes to `error` with the reason, and the "
          "rest of the batch is written. A database locked by another connection is waited for "
          "(`busy_timeout`) and tried again (`lock_retries`); then, as on a full disk or an I/O "
          "error, the batch is rolled back and delivered again later.")
      .field("path", &Config::path,
             field()
                 .required()
                 .not_empty()
                 .doc("Database file. A relative path is inside the engine's data dir; missing folders are "
                      "created, and so is the file.")
                 .example("db/readings.db"))
      .field("table", &Config::table,
             field().required().not_empty().doc("Table to insert into.").example("readings"))
      .field("columns", &Config::columns,
             field()
                 .required()
                 .not_empty()
                 .doc("The columns written, each {\"name\", \"expr\", \"type\"} (type optional: any, "
                      "integer, real, text, json).")
                 .example(boost::json::parse(R"([{"name": "sensor", "expr": "sensor", "type": "text"},
                                                 {"name": "value", "expr": "value", "type": "real"}])")))
      .field("id_column", &Config::id_column,
             field().not_empty().doc("Column that holds the record id: the table's PRIMARY KEY or a UNIQUE "
                                     "column, so that a record delivered again is not written twice."))
      .field(
          "create_table", &Config::create_table,
          field().doc("Create the table when it is missing: `id_column` TEXT PRIMARY KEY, then the columns "
                      "with their types. An existing table is used as it is."))
      .field("synchronous", &Config::synchronous,
             field()
                 .option("full", Synchronous::full,
                         "Every commit is synced to disk before the batch is acknowledged: nothing "
                         "acknowledged is lost in a power cut.")
                 .option("normal", Synchronous::normal,
                         "Commits are synced only at WAL checkpoints: much faster for small batches, but a "
                         "power cut can lose the batches committed since the last checkpoint (already "
                         "acknowledged upstream: lost, not duplicated). A process crash loses nothing.")
                 .doc("SQLite's synchronous setting (WAL mode)."))
      .field("busy_timeout", &Config::busy_timeout,
             field()
                 .duration_range(0ms, 10min)
                 .doc("How long one attempt waits for a lock another connection "
                      "holds."))
      .field("lock_retries", &Config::lock_retries,
             field().range(0, 100).advanced().doc(
                 "Times a batch is tried again when the database stayed locked (or SQLite answered busy "
                 "without waiting); then the write fails and the batch comes again later."))
      .field("max_size", &Config::max_size,
             field().doc("Largest the database may grow (SQLite's max_page_count); past it a batch fails as "
                         "on a full disk. 0: no limit but the disk."))
      .lint([](const Config& c, sdk::Lint& l) {
        if (c.path == ":memory:" ||
            (!c.path.empty() && (c.path.back() == '/' || fs::path(c.path).filename() == "..")))
          l.error("path", "invalid_value", "must name a database file", "e.g. db/readings.db");
        if (c.table.size() >= 7 && same_name(std::string_view(c.table).substr(0, 7), "sqlite_"))
          l.error("table", "invalid_value", "names starting with sqlite_ are SQLite's own");
        for (std::size_t i = 0; i < c.columns.size(); ++i) {
          const std::string at = "column " + std::to_string(i) + " ";
          if (same_name(c.columns[i].name, c.id_column))
            l.error("columns", "invalid_value", at + sdk::quote(c.columns[i].name) + " is the id column",
                    "rename the column or set id_column");
          for (std::size_t j = 0; j < i; ++j)
            if (same_name(c.columns[i].name, c.columns[j].name))
              l.error("columns", "invalid_value",
                      at + sdk::quote(c.columns[i].name) + " has the name of column " + std::to_string(j),
                      "each column once (SQLite names ignore ASCII case)");
        }
      })
      .flow_lint([](const Config& c, const sdk::FlowSettings& flow, sdk::Lint& l) {
        // A write waiting for the lock sends no in-progress acks: past ack_wait, JetStream hands
        // the batch out again meanwhile (written once all the same: its rows are there then).
        const auto longest = c.busy_timeout * (c.lock_retries + 1);
        if (flow.ack_wait.count() == 0 || longest <= flow.ack_wait) return;
        l.warning(
            "busy_timeout", "long_lock_wait",
            "a write may wait " + sdk::format_duration(longest) +
                " for the lock ((lock_retries + 1) x "
                "busy_timeout), longer than the flow's ack_wait " +
                sdk::format_duration(flow.ack_wait) +
                ": its batch is delivered again meanwhile (its rows are still written once)",
            "set busy_timeout to at most " + sdk::format_duration(flow.ack_wait / (c.lock_retries + 1)));
      })
      .example(boost::json::parse(R"({"id": "db", "type": "sqlite_output", "inputs": ["sensors"],
                                      "config": {"path": "db/readings.db", "table": "readings",
                                                 "create_table": true,
                                                 "columns": [{"name": "sensor", "expr": "sensor", "type": "text"},
                                                             {"name": "value", "expr": "value", "type": "real"}]}})"))
      .implementation<SqliteOutput>();
}

}  // namespace weir::components::sqlite_output
