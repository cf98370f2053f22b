#include "app/test_cmd.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "flowtest/runner.hpp"
#include "registry/registry.hpp"

namespace weir::app {

namespace {

// `weir test --help`: the cases format in short (README "Testing flows" has it whole).
constexpr const char* cases_help = R"(
CASES.json:
  {"env": {"VAR": "value"},                        ${VAR} in the flow, before the environment
   "cases": [{
     "name": "unique name",
     "start": 1700000000000,                       virtual clock at the start: ms or RFC 3339
     "match": "exact",                             how arrays in expect match: exact | subset
     "steps": [
       {"input": "ID", "record": {...}},           a record enters input ID (a double) now
       {"input": "ID", "at": "+250ms", "record": {...}, "id": "r1"}
                                                   "at": "+DURATION" or a moment moves the clock first
       {"advance": "2s"},                          moves the clock; stateful processors' advance()
                                                   runs at each multiple of their tick_interval
       {"restart": true}                           save(), new instances, load(): a crash and restart
     ],
     "expect": {
       "OUTPUT": [...],                            what output OUTPUT (a double) was given, in order
       "ID.PORT": {"exact": [...], "subset": [...], "contains": [...],
                   "count": N, "all": "EXPRESSION"}  what component ID emitted on PORT (error, late, ...)
     }}]}
  exact: same records in order (numbers by value); subset: each expected object within the record
  at its index, same count; contains: each expected found (as subset) in a record of its own;
  count: how many; all: every record satisfies the expression. now() reads the virtual clock.
Exit: 0 every case passed, 1 a case failed (with a diff), 2 bad usage or bad files.)";

}  // namespace

CLI::App* add_test_command(CLI::App& cli, TestOptions& options) {
  auto* cmd = cli.add_subcommand(
      "test", "Run a flow's cases in-process: real processors, inputs and outputs replaced, virtual time");
  cmd->add_option("flow", options.flow_file, "Flow file")->required();
  cmd->add_option("cases", options.cases_file, "Cases file")->required();
  cmd->add_option("--junit", options.junit_file, "Also write the results as JUnit XML to FILE");
  cmd->footer(cases_help);
  return cmd;
}

int run_test(const TestOptions& options) {
  // Components' log lines go to stderr, warnings and worse only: stdout is the report.
  auto logger = spdlog::stderr_color_st("weir-test");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return flowtest::run_command(options.flow_file, options.cases_file, options.junit_file,
                               registry::builtins(), std::cout, std::cerr);
}

}  // namespace weir::app
