// Internal: splits an expression or a path into tokens.
#pragma once

#include "sdk/expr/expr.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::sdk::expr::detail {

enum class Tok : std::uint8_t {
  end,
  ident,
  integer,
  real,
  string,
  dollar,
  lparen,
  rparen,
  lbracket,
  rbracket,
  comma,
  dot,
  plus,
  minus,
  star,
  slash,
  percent,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  and_,
  or_,
  not_,
  kw_true,
  kw_false,
  kw_null,
  kw_in,
};

struct Token {
  Tok kind = Tok::end;
  std::size_t offset = 0;
  std::size_t length = 0;
  std::string text;           // identifier name or decoded string literal
  std::uint64_t integer = 0;  // magnitude: the parser decides whether it fits (see unary minus)
  double real = 0;
};

// The last token is always Tok::end at offset source.size().
bool tokenize(std::string_view source, std::vector<Token>& out, CompileError& err);

// Parses `.name` and `[index]` steps from toks[pos] on, stopping at the first other token
// (path.cpp). Shared by the expression compiler and parse_path().
bool parse_path_steps(const std::vector<Token>& toks, std::size_t& pos, std::string_view source,
                      std::vector<PathSegment>& out, CompileError& err);

// For messages: "'+'", "identifier 'b'", "number 12", "end of expression".
std::string describe(const Token& t, std::string_view source);

}  // namespace weir::sdk::expr::detail
