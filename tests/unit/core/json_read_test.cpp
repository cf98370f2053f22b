#include "sdk/base/json_read.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "sdk/base/json_write.hpp"

namespace json = boost::json;
using weir::sdk::JsonParser;
using weir::sdk::parse_json;
using weir::sdk::to_json;

namespace {

json::value parse_ok(std::string_view text) {
  boost::system::error_code ec;
  auto v = parse_json(text, ec);
  REQUIRE_MESSAGE(!ec, text);
  return v;
}

}  // namespace

// Found by the json_write fuzz target: Boost.JSON 1.81 reads this number's shortest form back
// one unit in the last place off.
TEST_CASE("a written double reads back the same (fuzz: json_write)") {
  const json::value first = parse_ok("1000003777777777700003777777777776605060");
  const std::string written = to_json(first);
  CHECK(written == "1.0000037777777776e+39");
  const json::value second = parse_ok(written);
  REQUIRE(second.is_double());
  CHECK(second.get_double() == first.get_double());
  CHECK(second.get_double() == 1.0000037777777776e+39);
}

TEST_CASE("random doubles round-trip through write and read") {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> ordinary(-1e6, 1e6);
  int wrong = 0;
  for (int i = 0; i < 20000; ++i) {
    double d = 0;
    if (i % 2 == 0) {
      const std::uint64_t bits = rng();
      std::memcpy(&d, &bits, sizeof d);
      if (!std::isfinite(d)) continue;
    } else {
      d = ordinary(rng);
    }
    const json::value v = parse_ok(to_json(json::value(d)));
    if (!v.is_double() || v.get_double() != d) ++wrong;
  }
  CHECK(wrong == 0);
}

TEST_CASE("values other than doubles are Boost.JSON's") {
  CHECK(parse_ok(R"({"a":[1,-2,18446744073709551615,true,null,"s\u00e9"],"b":{}})") ==
        json::parse(R"({"a":[1,-2,18446744073709551615,true,null,"s\u00e9"],"b":{}})"));
  CHECK(parse_ok("-0.0").get_double() == 0.0);
  CHECK(parse_ok("21.5").get_double() == 21.5);
  CHECK(parse_ok(" [ 1.5e3 ] ").at(0).get_double() == 1500.0);
}

TEST_CASE("errors: not JSON, extra data, incomplete, too deep") {
  boost::system::error_code ec;
  parse_json("{", ec);
  CHECK(ec);
  parse_json("1 2", ec);
  CHECK(ec);
  parse_json("[1,]", ec);
  CHECK(ec);
  json::parse_options shallow;
  shallow.max_depth = 2;
  parse_json("[[[1]]]", ec, shallow);
  CHECK(ec);
}

TEST_CASE("a parser is reused after an error") {
  JsonParser p;
  boost::system::error_code ec;
  p.reset();
  p.write("[1.2, ", ec);
  CHECK(ec);
  p.reset();
  ec = {};
  p.write("[0.30000000000000004]", ec);
  REQUIRE(!ec);
  CHECK(p.release().at(0).get_double() == 0.30000000000000004);
}
