// `weir test` against the real binary: a failing case exits 1 and prints its diff and the
// summary; a cases file naming what the flow lacks exits 2 with positioned diagnostics; --junit
// writes the report; the shipped case files pass.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "core/json_source.hpp"
#include "support/nats_harness.hpp"

namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

Run weir_test(const std::string& args) {
  const char* bin = std::getenv("WEIR_BIN");
  const char* root = std::getenv("WEIR_SOURCE_ROOT");
  REQUIRE_MESSAGE((bin != nullptr && root != nullptr),
                  "WEIR_BIN or WEIR_SOURCE_ROOT is not set (meson sets them)");
  weir::testing::TempDir tmp{"weir-flowtest-cli"};
  const std::string cmd = "cd " + std::string(root) + " && " + bin + " test " + args + " >" +
                          tmp.file("out") + " 2>" + tmp.file("err");
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), weir::core::read_file(tmp.file("out"), nullptr),
          weir::core::read_file(tmp.file("err"), nullptr)};
}

}  // namespace

TEST_CASE("a failing case: exit 1, ok and FAIL lines, the diff, the summary") {
  auto r = weir_test("tests/flows/json_filter.flow.json tests/data/flowtest/failing.cases.json");
  INFO(r.out, r.err);
  CHECK(r.code == 1);
  CHECK(r.out ==
        "FAIL hot readings of site a pass\n"
        "  expect \"kept\":\n"
        "    exact: expected 1 record, got 2\n"
        "    extra actual[1]: {\"site\":\"a\",\"value\":70}\n"
        "FAIL site b is rejected\n"
        "  expect \"others\":\n"
        "    exact: expected 3 records, got 2; 1 differs, the first at index 1\n"
        "    at [1]/site: expected \"a\", got \"b\"\n"
        "    expected[1]: {\"site\":\"a\",\"value\":60}\n"
        "    actual[1]:   {\"site\":\"b\",\"value\":10}\n"
        "    missing expected[2]: {\"site\":\"b\",\"value\":10}\n"
        "  expect \"kept\":\n"
        "    count: expected 0 records, got 1\n"
        "    received[0]: {\"site\":\"a\",\"value\":60}\n"
        "0 passed, 2 failed\n");
}

TEST_CASE("bad files exit 2 with file:line:col and a pointer") {
  auto r = weir_test("tests/flows/json_filter.flow.json tests/data/flowtest/bad.cases.json");
  INFO(r.out, r.err);
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("tests/data/flowtest/bad.cases.json:5:29: error[unknown_input] /cases/0/steps/0/input: no "
                   "component \"reading\" in the flow (did you mean \"readings\"?)") != std::string::npos);
  CHECK(
      r.err.find("tests/data/flowtest/bad.cases.json:5:69: error[invalid_value] /cases/0/steps/1/advance:") !=
      std::string::npos);
  CHECK(
      r.err.find(
          "tests/data/flowtest/bad.cases.json:6:33: error[unknown_port] /cases/0/expect/hot.passed: \"hot\" "
          "has no port \"passed\"") != std::string::npos);

  auto flow_error = weir_test("tests/flows/invalid/cycle.json tests/flows/json_filter.cases.json");
  CHECK(flow_error.code == 2);
  CHECK(flow_error.err.find("tests/flows/invalid/cycle.json:") == 0);
  CHECK(weir_test("tests/flows/json_filter.flow.json no-such.cases.json").code == 2);
  CHECK(weir_test("tests/flows/json_filter.flow.json").code == 2);  // usage
}

TEST_CASE("--junit writes the report; passing cases exit 0") {
  weir::testing::TempDir tmp{"weir-flowtest-junit"};
  auto r = weir_test("tests/flows/json_filter.flow.json tests/flows/json_filter.cases.json --junit " +
                     tmp.file("report.xml"));
  INFO(r.out, r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("ok   hot readings of site a pass, in order; the rest go to rejected\n") == 0);
  CHECK(r.out.find("\n3 passed, 0 failed\n") != std::string::npos);
  const auto xml = weir::core::read_file(tmp.file("report.xml"), nullptr);
  CHECK(xml.find("<testsuite name=\"cases-json-filter\" tests=\"3\" failures=\"0\"") != std::string::npos);

  auto failing =
      weir_test("tests/flows/json_filter.flow.json tests/data/flowtest/failing.cases.json --junit " +
                tmp.file("failing.xml"));
  CHECK(failing.code == 1);
  const auto fxml = weir::core::read_file(tmp.file("failing.xml"), nullptr);
  CHECK(fxml.find("<failure message=\"expect &quot;kept&quot;:\" type=\"mismatch\">") != std::string::npos);
}
