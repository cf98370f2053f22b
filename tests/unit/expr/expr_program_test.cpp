#include "expr_test_util.hpp"

#include <boost/json/object.hpp>

#include <thread>
#include <vector>

using namespace weir::sdk::expr;
using namespace weir::sdk::expr::testing;

TEST_CASE("a compiled program is reusable, copyable and keeps its source") {
  const Program p = must_compile("value * 2 + k");
  const Program copy = p;  // NOLINT(performance-unnecessary-copy-initialization): the point
  CHECK(copy.source() == "value * 2 + k");
  for (int i = 0; i < 3; ++i) {
    boost::json::value out;
    EvalError err;
    REQUIRE(copy.eval(boost::json::object{{"value", i}, {"k", i}}, out, err));
    CHECK(out == i * 3);
  }
  Program source_of_move = p;
  const Program moved = std::move(source_of_move);
  CHECK(moved.source() == "value * 2 + k");
}

TEST_CASE("one program evaluated from several threads") {
  const Program p = must_compile("lower(name) + '-' + site == expected && n % 7 in [0, 3]");
  constexpr int per_thread = 2000;
  std::vector<int> passed(4, 0);
  std::vector<int> errors(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string site = "s" + std::to_string(t);
        const boost::json::object rec{
            {"name", "NODE"}, {"site", site}, {"expected", "node-" + site}, {"n", i}};
        bool result = false;
        EvalError err;
        if (!p.test(rec, result, err)) ++errors[t];
        if (result) ++passed[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  // i % 7 is 0 or 3 for 286 + 286 of the first 2000 integers.
  for (int t = 0; t < 4; ++t) {
    CHECK(errors[t] == 0);
    CHECK(passed[t] == 572);
  }
}
