// Shorthands for the expression tests: compile-or-fail, evaluate-or-fail.
#pragma once

#include "sdk/expr/expr.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>
#include <string_view>

namespace weir::sdk::expr::testing {

inline Program must_compile(std::string_view src) {
  CompileError err;
  auto p = Program::compile(src, err);
  INFO("source: ", std::string(src), " error at ", err.offset, ": ", err.message);
  REQUIRE(p.has_value());
  return *p;
}

// Evaluates `src` against the JSON `record`. The result compares by JSON kind, so
// CHECK(eval("7 / 2") == 3) also checks that the result stayed an integer.
inline boost::json::value eval(std::string_view src, std::string_view record = "{}") {
  const Program p = must_compile(src);
  boost::json::value out;
  EvalError err;
  const bool ok = p.eval(boost::json::parse(record), out, err);
  INFO("source: ", std::string(src), " error: ", err.message);
  REQUIRE(ok);
  return out;
}

inline bool passes(std::string_view src, std::string_view record = "{}") {
  const Program p = must_compile(src);
  bool result = false;
  EvalError err;
  const bool ok = p.test(boost::json::parse(record), result, err);
  INFO("source: ", std::string(src), " error: ", err.message);
  REQUIRE(ok);
  return result;
}

inline EvalError eval_error(std::string_view src, std::string_view record = "{}") {
  const Program p = must_compile(src);
  boost::json::value out;
  EvalError err;
  const bool ok = p.eval(boost::json::parse(record), out, err);
  INFO("source: ", std::string(src), " unexpectedly gave ", boost::json::serialize(out));
  REQUIRE_FALSE(ok);
  REQUIRE_FALSE(err.message.empty());
  return err;
}

inline CompileError compile_error(std::string_view src) {
  CompileError err;
  const auto p = Program::compile(src, err);
  INFO("source: ", std::string(src));
  REQUIRE_FALSE(p.has_value());
  REQUIRE_FALSE(err.message.empty());
  return err;
}

}  // namespace weir::sdk::expr::testing
