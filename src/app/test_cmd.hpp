// `weir test FLOW.json CASES.json [--junit FILE]`: a flow's cases run in-process (flowtest).
#pragma once

#include <string>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}

namespace weir::app {

struct TestOptions {
  std::string flow_file;
  std::string cases_file;
  std::string junit_file;
};

// Adds `test` to the command line, filling `options` when parsed.
CLI::App* add_test_command(CLI::App& cli, TestOptions& options);
int run_test(const TestOptions& options);

}  // namespace weir::app
