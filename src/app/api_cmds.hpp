// Commands that talk to a running engine over its HTTP API: `weir health` (is it ready?, for
// container health checks: no curl in the image) and `weir tap FLOW COMPONENT[.PORT]` (a port's
// live records in the terminal).
#pragma once

#include <memory>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}

namespace weir::app {

// Adds `health` and `tap` to the command line; after parsing, run() if selected().
class ApiCommands {
 public:
  explicit ApiCommands(CLI::App& cli);
  ~ApiCommands();
  ApiCommands(const ApiCommands&) = delete;
  ApiCommands& operator=(const ApiCommands&) = delete;

  bool selected() const;
  int run() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace weir::app
