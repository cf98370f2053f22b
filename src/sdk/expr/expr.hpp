// The expression language of json_filter (`where`), json_map (`set`) and route: compiled once at
// load, evaluated per record. Semantics for users are in src/sdk/expr/README.md.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::sdk::expr {

// `offset` is the 0-based byte offset inside the expression text, so callers can add it to the
// position of the string in the flow file.
struct CompileError {
  std::size_t offset = 0;
  std::string message;
  std::string hint;  // empty when there is nothing useful to suggest
};

// `offset` points at the operator or function that failed; 0 for errors that concern the whole
// expression (a filter result that is not a boolean) or no expression (set_path).
struct EvalError {
  std::size_t offset = 0;
  std::string message;
};

// One step of a field path: an object key, or an array index (negative counts from the end).
struct PathSegment {
  std::string key;
  std::int64_t index = 0;
  bool is_index = false;

  friend bool operator==(const PathSegment&, const PathSegment&) = default;
};

// A field path such as `a.b[0]["odd key"]`; no segments means the record itself (`$`).
class Path {
 public:
  Path() = default;
  explicit Path(std::vector<PathSegment> segments) : segments_(std::move(segments)) {}

  const std::vector<PathSegment>& segments() const { return segments_; }
  bool is_root() const { return segments_.empty(); }
  // Canonical text that parse_path() reads back to the same path.
  std::string to_string() const;

  friend bool operator==(const Path&, const Path&) = default;

 private:
  std::vector<PathSegment> segments_;
};

namespace detail {
struct ProgramImpl;
}

// Immutable after compile. Copies share the compiled code, and evaluation only reads it, so one
// Program may be evaluated from several threads at once.
class Program {
 public:
  static std::optional<Program> compile(std::string_view source, CompileError& err);

  // Filter semantics: true passes; false and null do not; any other result type is an error.
  // Returns false and fills `err` on an evaluation error. Never allocates for paths, literals,
  // comparisons, && || !, `in` and has().
  bool test(const boost::json::value& record, bool& result, EvalError& err) const;

  // The full result, for json_map. Returns false and fills `err` on an evaluation error.
  bool eval(const boost::json::value& record, boost::json::value& out, EvalError& err) const;

  const std::string& source() const;

 private:
  explicit Program(std::shared_ptr<const detail::ProgramImpl> impl) : impl_(std::move(impl)) {}

  std::shared_ptr<const detail::ProgramImpl> impl_;
};

// Parses a path written on its own, as json_map keys are: `a.b`, `items[0].name`,
// `a["odd key"]`, `["odd key"]`, `$`.
std::optional<Path> parse_path(std::string_view text, CompileError& err);

// nullptr if any step is missing, out of range, or goes through a value of the wrong type.
const boost::json::value* find_path(const boost::json::value& root, const Path& path);

// Creates objects for missing keys (and in place of nulls) along the way. Fails when a non-null
// non-object is in the way of a key, or an index is out of range or not applied to an array.
bool set_path(boost::json::value& root, const Path& path, boost::json::value v, EvalError& err);

// Returns whether something was removed. Removing `$` is a no-op that returns false.
bool remove_path(boost::json::value& root, const Path& path);

// What `now()` reads: the system clock, unless a ClockOverride is alive on the calling thread
// (`weir test` installs its virtual clock there, so that expressions see the test's time).
std::int64_t now_ms();

// Installs `now` (milliseconds since the epoch) as this thread's clock for `now()` while it
// lives; the previous one comes back after. `now` must outlive it.
class ClockOverride {
 public:
  explicit ClockOverride(const std::function<std::int64_t()>& now);
  ~ClockOverride();
  ClockOverride(const ClockOverride&) = delete;
  ClockOverride& operator=(const ClockOverride&) = delete;

 private:
  const std::function<std::int64_t()>* previous_;
};

}  // namespace weir::sdk::expr
