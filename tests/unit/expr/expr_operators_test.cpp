#include "expr_test_util.hpp"

#include <limits>

using namespace weir::sdk::expr::testing;
using boost::json::value;

TEST_CASE("literals") {
  CHECK(eval("42") == 42);
  CHECK(eval("2.5") == 2.5);
  CHECK(eval("1e3") == 1000.0);
  CHECK(eval("1.5E-1") == 0.15);
  CHECK(eval("\"a\\\"b\\n\\u00e9\\ud83d\\ude00\"") == "a\"b\n\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(eval("'it\\'s'") == "it's");
  CHECK(eval("'say \"hi\"'") == "say \"hi\"");
  CHECK(eval("true") == true);
  CHECK(eval("false") == false);
  CHECK(eval("null").is_null());
  CHECK(eval("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
  CHECK(eval("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("integer arithmetic stays integer where it is exact") {
  CHECK(eval("2 + 3") == 5);
  CHECK(eval("2 - 3") == -1);
  CHECK(eval("4 * 3") == 12);
  CHECK(eval("6 / 3") == 2);
  CHECK(eval("-6 / 3") == -2);
  CHECK(eval("5 / -1") == -5);
  // A quotient that is not whole is the double JSON readers expect, as for 7.0 / 2.
  CHECK(eval("7 / 2") == 3.5);
  CHECK(eval("-7 / 2") == -3.5);
  CHECK(eval("value * 9 / 5 + 32", R"({"value": 64})") == 147.2);
  CHECK(eval("value * 9 / 5 + 32", R"({"value": 64.0})") == 147.2);
  // div() is integer division, truncating toward zero.
  CHECK(eval("div(7, 2)") == 3);
  CHECK(eval("div(-7, 2)") == -3);
  CHECK(eval("div(7.0, 2)") == 3);
  CHECK(eval("7 % 3") == 1);
  CHECK(eval("-7 % 3") == -1);
  CHECK(eval("-9223372036854775808 % -1") == 0);
  CHECK(eval("-(3)") == -3);
  CHECK(eval("- -3") == 3);
  CHECK(eval("a - -b", R"({"a": 1, "b": 2})") == 3);
}

TEST_CASE("any double operand makes a double") {
  CHECK(eval("7.0 / 2") == 3.5);
  CHECK(eval("7 / 2.0") == 3.5);
  CHECK(eval("1 + 0.5") == 1.5);
  CHECK(eval("2 * 1.5") == 3.0);
  CHECK(eval("7.5 % 2") == 1.5);
  CHECK(eval("x * 1.0", R"({"x": 3})") == 3.0);
  CHECK(eval("-x", R"({"x": 2.5})") == -2.5);
}

TEST_CASE("unsigned record numbers") {
  CHECK(eval("x + 1", R"({"x": 9223372036854775806})") == 9223372036854775807);
  // Past int64 a record number is read as a double.
  CHECK(eval("x > 9223372036854775807", R"({"x": 18446744073709551615})") == true);
  CHECK(eval("x * 1", R"({"x": 18446744073709551615})").is_double());
}

TEST_CASE("string concatenation") {
  CHECK(eval("\"ab\" + 'cd'") == "abcd");
  CHECK(eval("site + \"-\" + id", R"({"site": "a", "id": "7"})") == "a-7");
}

TEST_CASE("arithmetic with null gives null") {
  CHECK(eval("missing + 1").is_null());
  CHECK(eval("1 - missing").is_null());
  CHECK(eval("null * 2.5").is_null());
  CHECK(eval("x / 0", R"({"x": null})").is_null());
  CHECK(eval("null + 'a'").is_null());
  CHECK(eval("-missing").is_null());
  CHECK(eval("(missing + 1) * 2").is_null());
}

TEST_CASE("equality") {
  CHECK(eval("1 == 1") == true);
  CHECK(eval("1 == 1.0") == true);
  CHECK(eval("1 != 1.0") == false);
  CHECK(eval("'a' == 'a'") == true);
  CHECK(eval("'a' != 'b'") == true);
  CHECK(eval("true == true") == true);
  CHECK(eval("null == null") == true);
  CHECK(eval("missing == null") == true);
  CHECK(eval("x == null", R"({"x": 0})") == false);
  SUBCASE("across types: never equal, no coercion") {
    CHECK(eval("'1' == 1") == false);
    CHECK(eval("'1' != 1") == true);
    CHECK(eval("0 == false") == false);
    CHECK(eval("1 == true") == false);
    CHECK(eval("'' == null") == false);
    CHECK(eval("0 != null") == true);
  }
  SUBCASE("arrays and objects compare as JSON") {
    const char* rec = R"({"a": [1, {"k": "v"}], "b": [1, {"k": "v"}], "c": [2], "o": {"k": 1}})";
    CHECK(eval("a == b", rec) == true);
    CHECK(eval("a == c", rec) == false);
    CHECK(eval("a != c", rec) == true);
    CHECK(eval("a[1] == o", rec) == false);
    CHECK(eval("a == 1", rec) == false);
  }
}

TEST_CASE("ordering") {
  CHECK(eval("1 < 2") == true);
  CHECK(eval("2 <= 2") == true);
  CHECK(eval("3 > 2.5") == true);
  CHECK(eval("2.5 >= 3") == false);
  CHECK(eval("'abc' < 'abd'") == true);
  CHECK(eval("'b' > 'abc'") == true);
  CHECK(eval("'B' < 'a'") == true);  // bytewise
  CHECK(eval("'a' <= 'a'") == true);
  SUBCASE("across types or with null: false") {
    CHECK(eval("'10' > 5") == false);
    CHECK(eval("'10' < 5") == false);
    CHECK(eval("5 <= '10'") == false);
    CHECK(eval("missing > 0") == false);
    CHECK(eval("missing < 0") == false);
    CHECK(eval("null >= null") == false);
    CHECK(eval("true > false") == false);
  }
  CHECK(eval("-9223372036854775808 < 9223372036854775807") == true);
}

TEST_CASE("logical operators") {
  CHECK(eval("true && true") == true);
  CHECK(eval("true && false") == false);
  CHECK(eval("false || true") == true);
  CHECK(eval("false || false") == false);
  CHECK(eval("!true") == false);
  CHECK(eval("!!true") == true);
  SUBCASE("null counts as false and the result is a boolean") {
    CHECK(eval("null && true") == false);
    CHECK(eval("true && missing") == false);
    CHECK(eval("missing || true") == true);
    CHECK(eval("false || missing") == false);
    CHECK(eval("!missing") == true);
  }
  SUBCASE("short circuit skips the other operand") {
    CHECK(eval("false && 1 / 0 == 1") == false);
    CHECK(eval("true || 'x' && 1") == true);
    CHECK(eval("missing && x.y > 2") == false);
  }
}

TEST_CASE("precedence is C-like") {
  CHECK(eval("1 + 2 * 3") == 7);
  CHECK(eval("(1 + 2) * 3") == 9);
  CHECK(eval("10 - 4 - 3") == 3);
  CHECK(eval("100 / 10 / 5") == 2);
  CHECK(eval("2 * 3 % 4") == 2);
  CHECK(eval("-2 * 3") == -6);
  CHECK(eval("1 + 2 > 2 + 0") == true);
  CHECK(eval("1 < 2 == 2 < 3") == true);
  CHECK(eval("true || false && false") == true);
  CHECK(eval("(true || false) && false") == false);
  CHECK(eval("!false && false") == false);
  CHECK(eval("!(false && false)") == true);
  CHECK(eval("1 + 1 in [2, 3]") == true);
  CHECK(eval("false == 1 in [1]") == false);
  CHECK(eval("x > 1 && y < 2 || z == 'a'", R"({"x": 0, "y": 0, "z": "a"})") == true);
}

TEST_CASE("filter results") {
  CHECK(passes("value > 50", R"({"value": 51})"));
  CHECK_FALSE(passes("value > 50", R"({"value": 50})"));
  CHECK_FALSE(passes("value > 50", "{}"));
  CHECK_FALSE(passes("missing"));
  CHECK_FALSE(passes("null"));
  CHECK(passes("flag", R"({"flag": true})"));
  CHECK(passes("$ > 3", "4"));
}
