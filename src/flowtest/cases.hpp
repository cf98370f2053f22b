// The cases file of `weir test` (README "Testing flows"): what each case feeds a flow's inputs,
// how its virtual clock moves, and what it expects on which ports. Parsed against the flow, so
// that a case naming a component or a port the flow lacks is a diagnostic with its position.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json_source.hpp"
#include "flow/flow.hpp"
#include "sdk/diagnostic.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::flowtest {

using Millis = std::int64_t;

// A cases file larger than this is refused before it is read (like a flow file's limit).
inline constexpr std::size_t max_cases_file_bytes = 16 * 1024 * 1024;

struct Step {
  enum class Kind { input, advance, restart };
  Kind kind = Kind::input;
  std::string pointer;  // "/cases/0/steps/2"
  // When the step happens: the clock moves to `at` (absolute) or by `after` first.
  std::optional<Millis> at;
  Millis after = 0;
  std::size_t input = 0;      // Kind::input: index into Flow::components
  std::string id;             // Kind::input: the record's id; empty: "<input>:<n>"
  boost::json::value record;  // Kind::input
  Millis advance = 0;         // Kind::advance
};

enum class Mode { exact, subset };

struct Expectation {
  std::string key;      // as written: "out", "win.late"
  std::string pointer;  // "/cases/0/expect/win.late"
  std::size_t component = 0;
  // An output's port index, or received (what an output component was given).
  static constexpr std::size_t received = static_cast<std::size_t>(-1);
  std::size_t port = received;
  std::optional<boost::json::array> exact, subset, contains;
  std::optional<std::uint64_t> count;
  std::shared_ptr<const sdk::expr::Program> all;
};

struct Case {
  std::string name;
  std::string pointer;  // "/cases/0"
  Millis start = 0;
  std::vector<Step> steps;
  std::vector<Expectation> expect;
};

struct Suite {
  std::string file;
  std::vector<Case> cases;
};

// The cases file read and parsed as JSON (no flow needed yet), with its source map.
struct CasesSource {
  std::string file;
  core::ParsedJson json;
  sdk::Diagnostics diagnostics;  // positioned
  // Values for ${VAR} in the flow file (its "env" member), before the process environment.
  std::map<std::string, std::string> env;
  bool ok() const { return !diagnostics.has_errors(); }
};

CasesSource read_cases_file(const std::string& path);
CasesSource read_cases_text(std::string_view text, const std::string& file);

// Every problem collected and positioned (file:line:col, JSON Pointer); cases only when none.
std::optional<Suite> parse_cases(const CasesSource& src, const flow::Flow& flow, sdk::Diagnostics& diags);

// "1700000000000" style numbers and RFC 3339 text ("2023-11-14T22:13:20.100Z", an offset
// "+01:00" allowed) as ms since the epoch.
std::optional<Millis> parse_rfc3339(std::string_view text);

}  // namespace weir::flowtest
