// `weir test FLOW.json CASES.json [--junit FILE]`: runs each case of a cases file against a fresh
// in-process instance of the flow (flowtest::Harness), prints `ok NAME` or `FAIL NAME` with a
// diff per case and a summary line, and optionally writes JUnit XML.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "flow/flow.hpp"
#include "flowtest/cases.hpp"
#include "registry/registry.hpp"

namespace weir::flowtest {

struct CaseResult {
  std::string name;
  bool passed = false;
  // Why it failed: lines without indentation, a line ending in ':' heading the lines after it.
  std::vector<std::string> failures;
  double seconds = 0;
};

CaseResult run_case(const flow::Flow& flow, const Case& c);

// The report of one case: "ok NAME", or "FAIL NAME" and its failures indented.
std::string report(const CaseResult& r);

// JUnit XML (the schema Jenkins, GitLab and GitHub reporters read): one testsuite named after
// the flow, one testcase per case, a <failure> with the diff for each that failed.
std::string junit_xml(const std::string& suite, const std::string& file,
                      const std::vector<CaseResult>& results);
// Text made safe for XML 1.0 content and attribute values: & < > " ' as entities, characters
// XML 1.0 cannot hold (C0 controls but tab, LF, CR; bytes that are not UTF-8) written as \u00XX
// or \xNN.
std::string xml_escape(std::string_view s);

// Exit codes: every case passed, a case failed, bad usage or bad files.
inline constexpr int exit_passed = 0, exit_failed = 1, exit_bad_input = 2;

// The whole command. Diagnostics and errors to `err`, the report to `out`.
int run_command(const std::string& flow_file, const std::string& cases_file, const std::string& junit_file,
                const registry::Registry& registry, std::ostream& out, std::ostream& err);

}  // namespace weir::flowtest
