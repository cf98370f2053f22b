// `weir dlq list|show|replay FLOW`: a flow's dead letters, read from NATS as `weir run` would
// connect (nats.url, or the embedded server's port on 127.0.0.1 when the url is empty). They work
// beside a running engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}

namespace weir::app {

// Where the engine config comes from, as for `weir run`.
struct DlqOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> nats_url;
};

// A table (or JSON) of up to `limit` dead letters after sequence `after`. Returns the exit code:
// 0, or 1 when the flow has no dead-letter stream or NATS cannot be reached.
int dlq_list(const DlqOptions& options, const std::string& flow, std::size_t limit, std::uint64_t after,
             bool as_json);

// One dead letter: its fields, headers and body. 1 when there is no such dead letter.
int dlq_show(const DlqOptions& options, const std::string& flow, std::uint64_t seq, bool as_json);

// Sends dead letters back to the subject they were consumed from (see runtime/dead_letters.hpp).
// 0 when none failed (skipped ones are kept and reported), 1 otherwise.
int dlq_replay(const DlqOptions& options, const std::string& flow,
               const std::optional<std::string>& component, std::optional<std::uint64_t> seq, bool as_json);

// Adds `dlq` with its subcommands to the command line; after parsing, run() if selected().
class DlqCommand {
 public:
  explicit DlqCommand(CLI::App& cli);
  ~DlqCommand();
  DlqCommand(const DlqCommand&) = delete;
  DlqCommand& operator=(const DlqCommand&) = delete;

  bool selected() const;
  int run() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace weir::app
