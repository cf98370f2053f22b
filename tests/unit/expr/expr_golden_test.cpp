// The arithmetic golden file (golden/arithmetic.txt): each expression against a record read the
// way an input reads it (sdk::RecordParser), its result written the way every output writes it
// (sdk::to_json). A failure names the line.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "sdk/base/json_write.hpp"
#include "sdk/base/record_json.hpp"
#include "sdk/expr/expr.hpp"

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(' ');
  const auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

TEST_CASE("arithmetic golden file: the same number gives the same result whatever its spelling") {
  const std::string path = std::string(WEIR_EXPR_GOLDEN_DIR) + "/arithmetic.txt";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  int line_no = 0, cases = 0;
  weir::sdk::RecordParser parser;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const auto a = line.find(" | ");
    const auto b = line.find(" | ", a + 3);
    REQUIRE_MESSAGE((a != std::string::npos && b != std::string::npos), "arithmetic.txt:" << line_no);
    const std::string src = trim(line.substr(0, a));
    const std::string record = trim(line.substr(a + 3, b - a - 3));
    const std::string want = trim(line.substr(b + 3));
    INFO("arithmetic.txt:", line_no, ": ", src, " with ", record);
    weir::sdk::expr::CompileError cerr;
    const auto program = weir::sdk::expr::Program::compile(src, cerr);
    REQUIRE_MESSAGE(program.has_value(), cerr.message);
    boost::json::value rec;
    std::string why;
    REQUIRE_MESSAGE(parser.parse(record, rec, why), why);
    boost::json::value out;
    weir::sdk::expr::EvalError err;
    const std::string got = program->eval(rec, out, err) ? weir::sdk::to_json(out) : "error: " + err.message;
    CHECK(got == want);
    ++cases;
  }
  CHECK(cases > 30);
}
