#include "store/store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "store/migrations.hpp"

namespace weir::store {

namespace {

constexpr int busy_timeout_ms = 5000;

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbClose>;

// "weir.db: what: SQLite's message"; the message is per connection, so read it under the lock
// that guarded the failing call.
Error fail(sqlite3* db, const std::filesystem::path& file, std::string_view what) {
  std::string text = file.string() + ": " + std::string(what);
  if (db) text += std::string(": ") + sqlite3_errmsg(db);
  return Error{std::move(text)};
}

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // The first failure (prepare or bind) sticks, so a caller checks once, at step().
  Statement& bind(int index, std::string_view text) {
    if (rc_ == SQLITE_OK)
      rc_ = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code (the connection's message says more).
  int step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }

  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

bool exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

// BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout): a deferred
// transaction that reads and then writes can fail at once in WAL mode when another process
// wrote in between. Rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { begun_ = exec(db, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (begun_ && !committed_) exec(db_, "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  bool begun() const { return begun_; }
  bool commit() { return committed_ = exec(db_, "COMMIT"); }

 private:
  sqlite3* db_;
  bool begun_ = false;
  bool committed_ = false;
};

std::optional<int> user_version(sqlite3* db) {
  Statement s(db, "PRAGMA user_version");
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return static_cast<int>(s.int64(0));
}

Error too_new(const std::filesystem::path& file, int version) {
  return Error{file.string() + ": written by a newer weir (schema version " + std::to_string(version) +
               ", this weir knows up to " + std::to_string(schema_version()) +
               "); refusing to use it. Upgrade weir, or point data_dir elsewhere"};
}

// Applies the missing steps, one transaction each. The version is read again inside each
// transaction: another process may be migrating the same file at the same moment.
std::optional<Error> migrate(sqlite3* db, const std::filesystem::path& file) {
  const auto steps = migrations();
  for (;;) {
    Transaction tx(db);
    if (!tx.begun()) return fail(db, file, "begin migration");
    const auto version = user_version(db);
    if (!version) return fail(db, file, "read user_version");
    if (*version > schema_version()) return too_new(file, *version);
    if (*version < 0) return Error{file.string() + ": unexpected schema version " + std::to_string(*version)};
    if (*version == schema_version()) {
      if (!tx.commit()) return fail(db, file, "commit");
      return std::nullopt;
    }
    const Migration& m = steps[static_cast<std::size_t>(*version)];
    const std::string what = "migration to schema version " + std::to_string(m.version);
    if (!exec(db, m.sql)) return fail(db, file, what);
    const std::string set_version = "PRAGMA user_version = " + std::to_string(m.version);
    if (!exec(db, set_version.c_str()) || !tx.commit()) return fail(db, file, what);
  }
}

// Switching a new file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once,
// without calling the busy handler, when another connection is switching too (two processes
// creating the database together): retried here for as long as the busy timeout.
std::optional<Error> use_wal(sqlite3* db, const std::filesystem::path& file) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  for (;;) {
    Statement wal(db, "PRAGMA journal_mode = WAL");
    const int rc = wal.step();
    if (rc == SQLITE_ROW) {
      if (const auto mode = wal.text(0); mode != "wal")
        return Error{file.string() + ": journal_mode is \"" + mode +
                     "\", not \"wal\" (is the file on a network file system?)"};
      return std::nullopt;
    }
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline)
      return fail(db, file, "set journal_mode=WAL");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr std::string_view revision_columns = "flow, rev, hash, source, file, deployed_at_ms";

Revision read_revision(const Statement& s, bool with_text) {
  Revision r;
  r.flow = s.text(0);
  r.rev = static_cast<int>(s.int64(1));
  r.hash = s.text(2);
  r.source = s.text(3);
  r.file = s.text(4);
  r.deployed_at_ms = s.int64(5);
  if (with_text) r.text = s.text(6);
  return r;
}

bool known_source(std::string_view s) {
  return s == source::file || s == source::api || s == source::rollback;
}

}  // namespace

int schema_version() {
  return migrations().back().version;
}

struct Store::Impl {
  std::filesystem::path file;
  DbHandle db;
  // One connection, used by one thread at a time (SQLITE_OPEN_NOMUTEX); also keeps each call's
  // error message from being overwritten by another thread's call.
  mutable std::mutex mutex;

  Result<std::optional<Revision>> one(std::string_view what, Statement& s) const {
    switch (s.step()) {
      case SQLITE_ROW:
        return std::optional(read_revision(s, true));
      case SQLITE_DONE:
        return std::optional<Revision>();
      default:
        return fail(db.get(), file, what);
    }
  }

  Result<std::optional<Revision>> latest(std::string_view flow) const {
    Statement s(db.get(), "SELECT " + std::string(revision_columns) +
                              ", text FROM flow_revisions WHERE flow = ?1 ORDER BY rev DESC LIMIT 1");
    s.bind(1, flow);
    return one("latest revision of " + std::string(flow), s);
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

const std::filesystem::path& Store::file() const {
  return impl_->file;
}

Result<Store> Store::open(const std::filesystem::path& file) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return fail(db.get(), file, "open");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);

  // Checked before anything writes (switching to WAL changes the file header).
  const auto version = user_version(db.get());
  if (!version) return fail(db.get(), file, "read user_version");
  if (*version > schema_version()) return too_new(file, *version);

  if (auto error = use_wal(db.get(), file)) return std::move(*error);
  if (!exec(db.get(), "PRAGMA foreign_keys = ON")) return fail(db.get(), file, "set foreign_keys");
  if (auto error = migrate(db.get(), file)) return std::move(*error);

  auto impl = std::make_unique<Impl>();
  impl->file = file;
  impl->db = std::move(db);
  return Store(std::move(impl));
}

Result<Recorded> Store::record(std::string_view flow, std::string_view hash, std::string_view source,
                               std::string_view file, std::string_view text) {
  if (flow.empty()) return Error{"record: empty flow name"};
  if (!known_source(source)) return Error{"record: unknown source \"" + std::string(source) + "\""};
  std::lock_guard lock(impl_->mutex);
  sqlite3* db = impl_->db.get();
  const std::string what = "record a revision of " + std::string(flow);

  Transaction tx(db);
  if (!tx.begun()) return fail(db, impl_->file, what);
  auto latest = impl_->latest(flow);
  if (!latest) return Error{latest.error()};
  if (*latest && (*latest)->hash == hash) return Recorded{std::move(**latest), false};

  Revision r;
  r.flow = flow;
  r.rev = *latest ? (*latest)->rev + 1 : 1;
  r.hash = hash;
  r.source = source;
  r.file = file;
  r.deployed_at_ms = now_ms();
  r.text = text;
  Statement s(db,
              "INSERT INTO flow_revisions (flow, rev, hash, source, file, deployed_at_ms, text) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  s.bind(1, r.flow).bind(2, std::int64_t{r.rev}).bind(3, r.hash).bind(4, r.source).bind(5, r.file);
  s.bind(6, r.deployed_at_ms).bind(7, r.text);
  if (s.step() != SQLITE_DONE || !tx.commit()) return fail(db, impl_->file, what);
  return Recorded{std::move(r), true};
}

Result<std::vector<Revision>> Store::history(std::string_view flow) const {
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db.get(), "SELECT " + std::string(revision_columns) +
                                   " FROM flow_revisions WHERE flow = ?1 ORDER BY rev DESC");
  s.bind(1, flow);
  std::vector<Revision> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_revision(s, false));
  if (rc != SQLITE_DONE) return fail(impl_->db.get(), impl_->file, "history of " + std::string(flow));
  return out;
}

Result<std::optional<Revision>> Store::revision(std::string_view flow, int rev) const {
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db.get(), "SELECT " + std::string(revision_columns) +
                                   ", text FROM flow_revisions WHERE flow = ?1 AND rev = ?2");
  s.bind(1, flow).bind(2, std::int64_t{rev});
  return impl_->one("revision " + std::to_string(rev) + " of " + std::string(flow), s);
}

Result<std::optional<Revision>> Store::latest(std::string_view flow) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->latest(flow);
}

}  // namespace weir::store
