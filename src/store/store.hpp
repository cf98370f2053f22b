// The engine's SQLite database (data_dir/weir.db): deployed flow revisions, for history and
// rollback. The engine and the CLI open the same file at once; WAL and a busy timeout make that
// safe, and one Store may be shared by several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace weir::store {

// The text of a failure: what was attempted, the file and SQLite's own message.
struct Error {
  std::string text;
};

template <class T>
class [[nodiscard]] Result : public core::BasicResult<T, std::string> {
  using Base = core::BasicResult<T, std::string>;

 public:
  Result(T value) : Base(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error)
      : Base(typename Base::ErrorTag{}, std::move(error.text)) {}  // NOLINT: implicit by design

  const std::string& error() const { return this->failure(); }
};

// Where a revision came from. Stored as text so that a later source needs no migration.
namespace source {
inline constexpr std::string_view file = "file";          // a flow file in flows_dir (hot reload, start)
inline constexpr std::string_view api = "api";            // PUT /api/v1/flows/NAME
inline constexpr std::string_view rollback = "rollback";  // a rollback done by the engine itself
}  // namespace source

struct Revision {
  std::string flow;
  int rev = 0;  // 1, 2, 3... per flow
  std::string hash;
  std::string source;               // one of store::source
  std::string file;                 // file name relative to flows_dir
  std::int64_t deployed_at_ms = 0;  // unix time, ms
  std::string text;                 // the flow file text; empty in history()
};

struct Recorded {
  Revision revision;
  bool added = false;  // false: the latest revision had the same hash and is returned instead
};

// The newest schema version this binary knows (PRAGMA user_version after migrating).
int schema_version();

class Store {
 public:
  // Opens or creates the database and migrates it. A database from a newer weir is refused and
  // left as it is. The parent directory must exist.
  static Result<Store> open(const std::filesystem::path& file);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  // Records a deployed revision numbered after the flow's latest one, unless that latest one has
  // the same hash: then nothing is added and it is returned.
  Result<Recorded> record(std::string_view flow, std::string_view hash, std::string_view source,
                          std::string_view file, std::string_view text);

  // Newest first, without text. A flow with no revisions gives an empty list.
  Result<std::vector<Revision>> history(std::string_view flow) const;
  // With text; nullopt when the flow has no such revision.
  Result<std::optional<Revision>> revision(std::string_view flow, int rev) const;
  // With text; nullopt when the flow has no revisions.
  Result<std::optional<Revision>> latest(std::string_view flow) const;

  const std::filesystem::path& file() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::store
