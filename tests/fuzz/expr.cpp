// The expression language: the input is an expression, then optionally a newline and a JSON
// record. The expression is compiled (lexer, parser, type checks), then tested and evaluated
// against the record (or {} when there is none); the same text is also read as a json_map path,
// which is then looked up, set and removed in the record.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sdk/expr/expr.hpp"

namespace expr = weir::sdk::expr;
namespace json = boost::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string_view source = input.substr(0, nl);
  json::value record = json::object();
  if (nl != std::string_view::npos) {
    boost::system::error_code ec;
    json::parse_options opt;
    opt.max_depth = 64;
    record = json::parse(input.substr(nl + 1), ec, {}, opt);
    if (ec) record = json::object();
  }

  expr::CompileError cerr;
  if (auto program = expr::Program::compile(source, cerr)) {
    if (program->source() != source) std::abort();
    bool passed = false;
    expr::EvalError eerr;
    if (!program->test(record, passed, eerr) && eerr.offset > source.size()) std::abort();
    json::value out;
    if (!program->eval(record, out, eerr) && eerr.offset > source.size()) std::abort();
  } else if (cerr.offset > source.size() || cerr.message.empty()) {
    std::abort();  // a compile error points inside the expression and says what is wrong
  }

  if (auto path = expr::parse_path(source, cerr)) {
    // The canonical text reads back to the same path.
    expr::CompileError again;
    auto reread = expr::parse_path(path->to_string(), again);
    if (!reread || *reread != *path) std::abort();
    (void)expr::find_path(record, *path);
    expr::EvalError eerr;
    if (expr::set_path(record, *path, json::value(1), eerr)) {
      auto* v = expr::find_path(record, *path);
      if (!v || *v != json::value(1)) std::abort();
      expr::remove_path(record, *path);
    }
  }
  return 0;
}
