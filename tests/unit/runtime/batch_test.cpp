#include "runtime/batch.hpp"

#include <doctest/doctest.h>

#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace json = boost::json;
using weir::runtime::BatchReader;
using weir::runtime::BatchWriter;
using weir::sdk::Record;

TEST_CASE("a batch reads back what was written") {
  BatchWriter w;
  w.add({"a1", json::object{{"v", 1}, {"s", "x y"}}});
  w.add({"a2", json::array{1.5, nullptr, true}});
  CHECK(w.count() == 2);
  BatchReader r;
  std::vector<Record> out;
  std::string error;
  REQUIRE(r.decode(w.body(), out, error));
  REQUIRE(out.size() == 2);
  CHECK(out[0].id == "a1");
  CHECK(out[0].value == json::value(json::object{{"v", 1}, {"s", "x y"}}));
  CHECK(out[1].id == "a2");
  CHECK(out[1].value == json::value(json::array{1.5, nullptr, true}));
}

// Found by the json_write fuzz target: with Boost.JSON's own parser a double drifted by one unit
// in the last place at every hop.
TEST_CASE("doubles cross a hop unchanged") {
  const std::vector<double> values = {1.0000037777777776e+39, 0.30000000000000004, 48.38999999999999,
                                      -123456.78901234567, 2.2250738585072014e-308};
  BatchReader r;
  std::vector<Record> in;
  for (std::size_t i = 0; i < values.size(); ++i)
    in.push_back({"r" + std::to_string(i), json::value(values[i])});
  for (int hop = 0; hop < 3; ++hop) {
    BatchWriter w;
    for (const auto& rec : in) w.add(rec);
    std::vector<Record> out;
    std::string error;
    REQUIRE(r.decode(w.body(), out, error));
    in = std::move(out);
  }
  REQUIRE(in.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    REQUIRE(in[i].value.is_double());
    CHECK(in[i].value.get_double() == values[i]);
  }
}

TEST_CASE("a body that is not a batch") {
  BatchReader r;
  std::vector<Record> out;
  std::string error;
  CHECK_FALSE(r.decode("noid\n", out, error));
  CHECK(error.find("not a weir batch") == 0);
  CHECK_FALSE(r.decode(" {}\n", out, error));
  CHECK_FALSE(r.decode("a1 {\"v\":1} x\n", out, error));
  CHECK_FALSE(r.decode("a1 {\"v\":\n", out, error));
  out.clear();
  CHECK(r.decode("a1 1\n\na2 2", out, error));
  CHECK(out.size() == 2);
}
