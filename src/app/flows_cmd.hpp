// `weir flows history NAME` and `weir flows rollback NAME REV`: the deployed revisions kept in
// data_dir/weir.db. Both work beside a running engine (the database is shared, WAL mode).
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}

namespace weir::app {

// Where the engine config comes from, as for `weir run`.
struct FlowsOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> flows_dir;
  std::optional<std::string> data_dir;
};

// Prints the revisions of a flow, newest first (a table, or JSON). Returns the exit code: 0, or
// 1 when the flow has none or the database cannot be read.
int flows_history(const FlowsOptions& options, const std::string& flow, bool as_json);

// Writes the text of revision `rev` back into the flow's file in flows_dir; the engine's hot
// reload deploys it and records it as a new revision. Returns 0, or 1 when there is no such
// revision or the file cannot be written.
int flows_rollback(const FlowsOptions& options, const std::string& flow, int rev);

// Adds `flows` with its subcommands to the command line; after parsing, run() if selected().
class FlowsCommand {
 public:
  explicit FlowsCommand(CLI::App& cli);
  ~FlowsCommand();
  FlowsCommand(const FlowsCommand&) = delete;
  FlowsCommand& operator=(const FlowsCommand&) = delete;

  bool selected() const;
  int run() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace weir::app
