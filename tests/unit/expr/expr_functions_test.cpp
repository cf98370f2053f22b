#include "expr_test_util.hpp"

#include <chrono>
#include <functional>

using namespace weir::sdk::expr::testing;

TEST_CASE("lower and upper change ASCII letters only") {
  CHECK(eval("lower('MiXeD 1_Z')") == "mixed 1_z");
  CHECK(eval("upper('MiXeD 1_z')") == "MIXED 1_Z");
  CHECK(eval("lower(s)", R"({"s": "already"})") == "already");
  CHECK(eval("upper('\xC3\xA9t\xC3\xA9')") == "\xC3\xA9T\xC3\xA9");
  CHECK(eval("lower(s) == 'warn'", R"({"s": "WARN"})") == true);
  CHECK(eval("lower(missing)").is_null());
}

TEST_CASE("len counts characters, elements and members") {
  CHECK(eval("len('')") == 0);
  CHECK(eval("len('abc')") == 3);
  CHECK(eval("len('\xC3\xA9t\xC3\xA9')") == 3);  // code points, not bytes
  CHECK(eval("len(a)", R"({"a": [1, 2, [3, 4]]})") == 3);
  CHECK(eval("len(o)", R"({"o": {"x": 1, "y": 2}})") == 2);
  CHECK(eval("len($)", R"({"x": 1})") == 1);
  CHECK(eval("len(missing)").is_null());
}

TEST_CASE("contains, starts_with, ends_with") {
  CHECK(eval("contains('temperature', 'rat')") == true);
  CHECK(eval("contains('temperature', 'xyz')") == false);
  CHECK(eval("contains('abc', '')") == true);
  CHECK(eval("starts_with(topic, 'sensors/')", R"({"topic": "sensors/t1"})") == true);
  CHECK(eval("starts_with('ab', 'abc')") == false);
  CHECK(eval("ends_with('file.json', '.json')") == true);
  CHECK(eval("ends_with('file.json', '.csv')") == false);
  CHECK(eval("contains(missing, 'a')").is_null());
  CHECK(eval("starts_with('a', missing)").is_null());
  CHECK_FALSE(passes("contains(msg, 'err')"));
}

TEST_CASE("now() is the wall clock in milliseconds") {
  using namespace std::chrono;
  const auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  const auto v = eval("now()");
  const auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  REQUIRE(v.is_int64());
  CHECK(v.get_int64() >= before);
  CHECK(v.get_int64() <= after);
  CHECK(passes("now() - ts < 60000", R"({"ts": )" + std::to_string(before) + "}"));
}

TEST_CASE("now() reads this thread's clock override while it lives, then the wall clock again") {
  std::int64_t virtual_now = 1700000000000;
  const std::function<std::int64_t()> clock = [&] { return virtual_now; };
  {
    weir::sdk::expr::ClockOverride use(clock);
    CHECK(eval("now()") == 1700000000000);
    virtual_now += 250;
    CHECK(eval("now()") == 1700000000250);
    {
      const std::function<std::int64_t()> inner = [] { return std::int64_t{5}; };
      weir::sdk::expr::ClockOverride nested(inner);
      CHECK(eval("now()") == 5);
    }
    CHECK(eval("now()") == 1700000000250);
  }
  CHECK(eval("now()").get_int64() > 1700000000250);  // the wall clock: this runs after 2023
}

TEST_CASE("in with a list literal") {
  CHECK(eval("2 in [1, 2, 3]") == true);
  CHECK(eval("4 in [1, 2, 3]") == false);
  CHECK(eval("2.0 in [1, 2]") == true);
  CHECK(eval("'2' in [1, 2]") == false);
  CHECK(eval("site in ['a', 'b']", R"({"site": "b"})") == true);
  CHECK(eval("site in ['a', 'b']", R"({"site": "c"})") == false);
  CHECK(eval("missing in ['a', null]") == true);
  CHECK(eval("missing in ['a']") == false);
  CHECK(eval("1 in []") == false);
  CHECK(eval("-1 in [-1]") == true);
  SUBCASE("elements may be expressions") {
    const char* rec = R"({"x": 5, "lo": 4, "hi": 6})";
    CHECK(eval("x in [lo + 1, hi]", rec) == true);
    CHECK(eval("x in [lo, hi]", rec) == false);
    CHECK(eval("x + 1 in [lo, 'a', hi]", rec) == true);
    CHECK(eval("(x in [1, lo + 1]) && true", rec) == true);
    CHECK(eval("x in [5, 1 / 0]", rec) == true);  // stops at the first match
  }
  SUBCASE("!(x in ...) negates") {
    CHECK(eval("!(3 in [1, 2])") == true);
  }
}

TEST_CASE("in with an array from the record") {
  const char* rec = R"({"tags": ["x", "y", 3], "empty": [], "o": {"x": 1}})";
  CHECK(eval("'y' in tags", rec) == true);
  CHECK(eval("3.0 in tags", rec) == true);
  CHECK(eval("'z' in tags", rec) == false);
  CHECK(eval("'x' in empty", rec) == false);
  CHECK(eval("'x' in missing", rec) == false);
}

TEST_CASE("has() is about presence, not value") {
  const char* rec = R"({"meta": {"id": null, "n": 0}, "items": [1]})";
  CHECK(eval("has(meta)", rec) == true);
  CHECK(eval("has(meta.id)", rec) == true);
  CHECK(eval("has(meta.n)", rec) == true);
  CHECK(eval("has(meta.other)", rec) == false);
  CHECK(eval("has(meta.id.x)", rec) == false);
  CHECK(eval("has(items[0])", rec) == true);
  CHECK(eval("has(items[1])", rec) == false);
  CHECK(eval("has(items[-1])", rec) == true);
  CHECK(eval("has($)", rec) == true);
  CHECK(eval("has(meta['id'])", rec) == true);
  CHECK(eval("!has(x) && has(meta)", rec) == true);
}

TEST_CASE("functions nest and combine") {
  CHECK(eval("len(lower(upper('Ab')) + 'c')") == 3);
  CHECK(eval("contains(lower(msg), 'error') && len(msg) > 3", R"({"msg": "An ERROR"})") == true);
}
