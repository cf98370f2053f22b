#include "expr_test_util.hpp"

using namespace weir::sdk::expr;
using namespace weir::sdk::expr::testing;

namespace {

struct Expected {
  const char* source;
  std::size_t offset;
  const char* message;
  const char* hint = "";
};

void check_compile_error(const Expected& e) {
  CAPTURE(e.source);
  const CompileError err = compile_error(e.source);
  CHECK(err.offset == e.offset);
  CHECK(err.message == e.message);
  CHECK(err.hint == e.hint);
}

}  // namespace

TEST_CASE("lexical errors") {
  for (const Expected& e : std::initializer_list<Expected>{
           {"a # b", 2, "unexpected character '#'"},
           {"a = 1", 2, "unexpected character '='", "use '==' to compare"},
           {"a & b", 2, "unexpected character '&'", "use '&&'"},
           {"a | b", 2, "unexpected character '|'", "use '||'"},
           {"x == \xC3\xA9", 5, "unexpected non-ASCII character",
            "quote field names that are not plain identifiers: $[\"name\"]"},
           {"s == \"abc", 5, "unterminated string"},
           {"s == 'abc\\'", 5, "unterminated string"},
           {"s == \"a\\qb\"", 7, "invalid escape '\\q'",
            "valid escapes: \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX"},
           {"'\\u12'", 1, "invalid \\u escape: expected 4 hex digits"},
           {"'\\udc00'", 1, "invalid \\u escape: lone surrogate"},
           {"'\\ud800x'", 1, "invalid \\u escape: lone surrogate"},
           {"1 + 12abc", 4, "invalid number"},
           {"1e+", 0, "invalid number: missing exponent digits"},
           {"x > 99999999999999999999", 4, "integer literal out of range"},
           {"x > 1e999", 4, "number out of range"},
           {"x > 9223372036854775808", 4, "integer literal out of range"},
           {"-9223372036854775809", 1, "integer literal out of range"},
       }) {
    check_compile_error(e);
  }
}

TEST_CASE("syntax errors") {
  for (const Expected& e : std::initializer_list<Expected>{
           {"", 0, "empty expression"},
           {"   ", 0, "empty expression"},
           {"a +", 3, "expected an operand, found end of expression"},
           {"a + * b", 4, "expected an operand, found '*'"},
           {"&& a", 0, "expected an operand, found '&&'"},
           {"()", 1, "expected an operand, found ')'"},
           {"(a + b", 6, "missing ')'", "to close '(' at offset 0"},
           {"((a) + b", 8, "missing ')'", "to close '(' at offset 0"},
           {"(a b)", 3, "expected ')', found identifier 'b'", "to close '(' at offset 0"},
           {"a + b)", 5, "unmatched ')'"},
           {"a b", 2, "expected an operator, found identifier 'b'"},
           {"a and b", 2, "expected an operator, found identifier 'and'", "use '&&'"},
           {"a or b", 2, "expected an operator, found identifier 'or'", "use '||'"},
           {"not a", 0, "unexpected 'not'", "use '!'"},
           {"a < b < c", 6, "comparisons cannot be chained", "combine them with && or add parentheses"},
           {"a == b != c", 7, "comparisons cannot be chained", "combine them with && or add parentheses"},
           {"[1, 2]", 0, "a list is only allowed after 'in'"},
           {"x in [1, 2", 10, "missing ']'", "to close '[' at offset 5"},
           {"x in [1 2]", 8, "expected ',' or ']', found number 2", "to close '[' at offset 5"},
           {"x in [1,]", 8, "expected an operand, found ']'"},
           {"a.", 2, "expected a field name after '.', found end of expression"},
           {"a.1", 2, "expected a field name after '.', found number 1"},
           {"a[b]", 2, "expected an integer or a string inside [ ], found identifier 'b'"},
           {"a[0", 3, "missing ']'", "to close '[' at offset 1"},
           {"a[0 + 1]", 4, "expected ']', found '+'", "to close '[' at offset 1"},
           {"lower('a' 'b')", 10, "expected ',' or ')', found string 'b'", "to close '(' at offset 5"},
           {"lower('a'", 9, "missing ')'", "to close '(' at offset 5"},
       }) {
    check_compile_error(e);
  }
}

TEST_CASE("function errors") {
  for (const Expected& e : std::initializer_list<Expected>{
           {"x && lowr(s) == 'a'", 5, "unknown function 'lowr'", "did you mean 'lower'?"},
           {"startswith(s, 'a')", 0, "unknown function 'startswith'", "did you mean 'starts_with'?"},
           {"length(s)", 0, "unknown function 'length'", "did you mean 'len'?"},
           {"hsa(a)", 0, "unknown function 'hsa'", "did you mean 'has'?"},
           {"frobnicate(s)", 0, "unknown function 'frobnicate'"},
           {"lower()", 0, "lower() takes 1 argument, got 0"},
           {"1 + lower(a, b)", 4, "lower() takes 1 argument, got 2"},
           {"contains(s)", 0, "contains() takes 2 arguments, got 1"},
           {"now(1)", 0, "now() takes 0 arguments, got 1"},
           {"has()", 0, "has() takes 1 argument, got 0"},
           {"has(a, b)", 0, "has() takes 1 argument, got 2"},
           {"has(1)", 4, "has() expects a field path", "e.g. has(meta.id)"},
           {"has(lower(a))", 4, "has() expects a field path", "e.g. has(meta.id)"},
           {"has(a + 1)", 4, "has() expects a field path", "e.g. has(meta.id)"},
           {"has('a')", 4, "has() expects a field path", "e.g. has(meta.id)"},
       }) {
    check_compile_error(e);
  }
}

TEST_CASE("nesting is bounded") {
  const std::string deep = std::string(200, '(') + "1" + std::string(200, ')');
  const CompileError err = compile_error(deep);
  CHECK(err.message == "expression is nested too deeply");
  CHECK(err.offset == 64);  // where the first sub-expression past the limit starts
  const std::string ok = std::string(30, '(') + "1" + std::string(30, ')');
  CHECK(eval(ok) == 1);
}

TEST_CASE("evaluation errors") {
  struct Case {
    const char* source;
    std::size_t offset;
    const char* message;
  };
  const char* rec = R"({"s": "abc", "n": 5, "b": true, "a": [1], "o": {}})";
  for (const Case& c : std::initializer_list<Case>{
           {"n / 0", 2, "division by zero"},
           {"n % 0", 2, "modulo by zero"},
           {"n / 0.0", 2, "division by zero"},
           {"1.5 % 0", 4, "modulo by zero"},
           {"9223372036854775807 + 1", 20, "integer overflow in '+'"},
           {"-9223372036854775808 - 1", 21, "integer overflow in '-'"},
           {"4611686018427387904 * 2", 20, "integer overflow in '*'"},
           {"-9223372036854775808 / -1", 21, "integer overflow in '/'"},
           {"-x", 0, "integer overflow in unary '-'"},
           {"1e308 * 10", 6, "result of '*' is not a finite number"},
           {"s + 1", 2, "'+' expects two numbers or two strings, got string and number"},
           {"s - 'a'", 2, "'-' expects numbers, got string and string"},
           {"b * 2", 2, "'*' expects numbers, got boolean and number"},
           {"a + 1", 2, "'+' expects two numbers or two strings, got array and number"},
           {"-s", 0, "unary '-' expects a number, got string"},
           {"n && true", 2, "'&&' expects booleans, got number"},
           {"true && s", 5, "'&&' expects booleans, got string"},
           {"false || o", 6, "'||' expects booleans, got object"},
           {"n || true", 2, "'||' expects booleans, got number"},
           {"!s", 0, "'!' expects booleans, got string"},
           {"1 in s", 2, "'in' expects a list or an array, got string"},
           {"1 in o", 2, "'in' expects a list or an array, got object"},
           {"lower(n)", 0, "lower() expects a string, got number"},
           {"upper(b)", 0, "upper() expects a string, got boolean"},
           {"len(n)", 0, "len() expects a string, an array or an object, got number"},
           {"contains(s, 1)", 0, "contains() expects two strings, got string and number"},
           {"contains(a, 1)", 0,
            "contains() expects two strings, got array and number; use 'x in array' for arrays"},
           {"starts_with(1, 'a')", 0, "starts_with() expects two strings, got number and string"},
           {"ends_with(o, 'a')", 0, "ends_with() expects two strings, got object and string"},
       }) {
    CAPTURE(c.source);
    const std::string record = std::string(c.source) == "-x" ? R"({"x": -9223372036854775808})" : rec;
    const EvalError err = eval_error(c.source, record);
    CHECK(err.offset == c.offset);
    CHECK(err.message == c.message);
  }
}

TEST_CASE("a filter must give a boolean or null") {
  const Program p = must_compile("n + 1");
  bool result = true;
  EvalError err;
  CHECK_FALSE(p.test(boost::json::parse(R"({"n": 1})"), result, err));
  CHECK(err.message == "a filter must give a boolean, got number");
  CHECK_FALSE(must_compile("s").test(boost::json::parse(R"({"s": "x"})"), result, err));
  CHECK(err.message == "a filter must give a boolean, got string");
  CHECK(must_compile("n + 1").test(boost::json::parse("{}"), result, err));  // null + 1 is null
  CHECK_FALSE(result);
}
