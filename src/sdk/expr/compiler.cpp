// Precedence climbing straight to stack code: one pass, no syntax tree.
#include "sdk/expr/lexer.hpp"
#include "sdk/expr/program.hpp"

#include <cstdint>
#include <limits>

namespace weir::sdk::expr {
namespace detail {
namespace {

// Bounds recursion so that a hostile expression cannot overflow the C++ stack at load time.
constexpr std::size_t max_nesting = 64;

enum Prec : int {
  none = 0,
  or_ = 1,
  and_ = 2,
  equality = 3,
  relational = 4,
  additive = 5,
  multiplicative = 6
};

int precedence(Tok k) {
  switch (k) {
    case Tok::or_:
      return Prec::or_;
    case Tok::and_:
      return Prec::and_;
    case Tok::eq:
    case Tok::ne:
      return equality;
    case Tok::lt:
    case Tok::le:
    case Tok::gt:
    case Tok::ge:
    case Tok::kw_in:
      return relational;
    case Tok::plus:
    case Tok::minus:
      return additive;
    case Tok::star:
    case Tok::slash:
    case Tok::percent:
      return multiplicative;
    default:
      return none;
  }
}

Op binary_op(Tok k) {
  switch (k) {
    case Tok::plus:
      return Op::add;
    case Tok::minus:
      return Op::sub;
    case Tok::star:
      return Op::mul;
    case Tok::slash:
      return Op::div;
    case Tok::percent:
      return Op::mod;
    case Tok::eq:
      return Op::eq;
    case Tok::ne:
      return Op::ne;
    case Tok::lt:
      return Op::lt;
    case Tok::le:
      return Op::le;
    case Tok::gt:
      return Op::gt;
    default:
      return Op::ge;
  }
}

bool starts_operand(Tok k) {
  switch (k) {
    case Tok::ident:
    case Tok::integer:
    case Tok::real:
    case Tok::string:
    case Tok::dollar:
    case Tok::lparen:
    case Tok::not_:
    case Tok::minus:
    case Tok::kw_true:
    case Tok::kw_false:
    case Tok::kw_null:
      return true;
    default:
      return false;
  }
}

class Compiler {
 public:
  Compiler(std::string_view src, CompileError& err, ProgramImpl& p) : src_(src), err_(err), p_(p) {}

  bool run() {
    if (!tokenize(src_, toks_, err_)) return false;
    if (tok().kind == Tok::end) return fail(0, "empty expression");
    if (!expression(Prec::or_)) return false;
    if (tok().kind == Tok::rparen) return fail(tok().offset, "unmatched ')'");
    if (tok().kind != Tok::end) {
      std::string hint;
      if (tok().kind == Tok::ident && tok().text == "and") hint = "use '&&'";
      if (tok().kind == Tok::ident && tok().text == "or") hint = "use '||'";
      return fail(tok().offset, "expected an operator, found " + describe(tok(), src_), std::move(hint));
    }
    if (p_.max_depth > max_stack) return fail(0, "expression is too complex");
    finish_constants();
    return true;
  }

 private:
  struct Nest {
    explicit Nest(std::size_t& n) : n_(++n) {}
    ~Nest() { --n_; }
    std::size_t& n_;
  };

  const Token& tok() const { return toks_[pos_]; }
  const Token& next_tok() const { return toks_[pos_ + 1 < toks_.size() ? pos_ + 1 : pos_]; }

  bool fail(std::size_t offset, std::string message, std::string hint = {}) {
    err_.offset = offset;
    err_.message = std::move(message);
    err_.hint = std::move(hint);
    return false;
  }

  bool too_deep() { return fail(tok().offset, "expression is nested too deeply"); }

  std::size_t emit(Op op, int delta, std::size_t offset, std::uint32_t a = 0, std::uint32_t b = 0) {
    p_.code.push_back({op, a, b, static_cast<std::uint32_t>(offset)});
    depth_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(depth_) + delta);
    if (depth_ > p_.max_depth) p_.max_depth = depth_;
    return p_.code.size() - 1;
  }

  void patch_to_here(std::size_t at) { p_.code[at].a = static_cast<std::uint32_t>(p_.code.size()); }

  void push_const(Value v, std::size_t offset) {
    p_.constants.push_back(v);
    emit(Op::push_const, 1, offset, static_cast<std::uint32_t>(p_.constants.size() - 1));
  }

  void push_string(std::string s, std::size_t offset) {
    // The view is bound in finish_constants(), once `strings` stops growing: the size field
    // carries the index until then.
    Value v = Value::string({});
    v.s = {nullptr, p_.strings.size()};
    p_.strings.push_back(std::move(s));
    push_const(v, offset);
  }

  void finish_constants() {
    for (Value& v : p_.constants) {
      if (v.type == Type::string) v = Value::string(p_.strings[v.s.size]);
    }
  }

  bool expression(int min_prec) {
    Nest nest(nesting_);
    if (nesting_ > max_nesting) return too_deep();
    if (!unary()) return false;
    int last_comparison = Prec::none;
    while (true) {
      const Tok kind = tok().kind;
      const int prec = precedence(kind);
      if (prec == Prec::none || prec < min_prec) return true;
      const std::size_t offset = tok().offset;
      const bool comparison = prec == Prec::equality || prec == Prec::relational;
      if (comparison && last_comparison == prec) {
        return fail(offset, "comparisons cannot be chained", "combine them with && or add parentheses");
      }
      last_comparison = comparison ? prec : Prec::none;
      ++pos_;
      if (kind == Tok::and_ || kind == Tok::or_) {
        const std::uint32_t which = kind == Tok::and_ ? 0 : 1;
        const std::size_t jump = emit(which == 0 ? Op::and_jump : Op::or_jump, -1, offset);
        if (!expression(prec + 1)) return false;
        emit(Op::to_bool, 0, offset, which);
        patch_to_here(jump);
      } else if (kind == Tok::kw_in) {
        if (!in_rhs(offset)) return false;
      } else {
        if (!expression(prec + 1)) return false;
        emit(binary_op(kind), -1, offset);
      }
    }
  }

  bool in_rhs(std::size_t in_offset) {
    if (tok().kind != Tok::lbracket) {
      if (!expression(Prec::additive)) return false;
      emit(Op::in_value, -1, in_offset);
      return true;
    }
    const std::size_t open = tok().offset;
    ++pos_;
    if (tok().kind == Tok::rbracket) {
      ++pos_;
      emit(Op::in_const, 0, in_offset, 0, 0);
      return true;
    }
    const std::size_t code_start = p_.code.size();
    const std::size_t first_const = p_.constants.size();
    std::vector<std::size_t> jumps;
    bool all_const = true;
    while (true) {
      const std::size_t elem_start = p_.code.size();
      if (!expression(Prec::or_)) return false;
      all_const = all_const && p_.code.size() == elem_start + 1 && p_.code.back().op == Op::push_const;
      jumps.push_back(emit(Op::in_elem, -1, in_offset));
      if (tok().kind == Tok::comma) {
        ++pos_;
        continue;
      }
      if (tok().kind == Tok::rbracket) break;
      return missing_close(']', open, "expected ',' or ']'");
    }
    ++pos_;
    if (all_const) {
      // Each element added exactly one constant, in order: test them in one instruction.
      p_.code.resize(code_start);
      emit(Op::in_const, 0, in_offset, static_cast<std::uint32_t>(first_const),
           static_cast<std::uint32_t>(jumps.size()));
      return true;
    }
    emit(Op::in_end, 0, in_offset);
    for (std::size_t j : jumps) patch_to_here(j);
    return true;
  }

  bool missing_close(char close, std::size_t open, const char* expected) {
    const std::string hint =
        std::string("to close '") + (close == ']' ? '[' : '(') + "' at offset " + std::to_string(open);
    if (tok().kind == Tok::end) {
      return fail(tok().offset, std::string("missing '") + close + "'", hint);
    }
    return fail(tok().offset, std::string(expected) + ", found " + describe(tok(), src_), hint);
  }

  bool unary() {
    const Token& t = tok();
    if (t.kind != Tok::not_ && t.kind != Tok::minus) return primary();
    Nest nest(nesting_);
    if (nesting_ > max_nesting) return too_deep();
    const std::size_t offset = t.offset;
    ++pos_;
    if (t.kind == Tok::minus && tok().kind == Tok::integer) {
      // Folded so that the most negative int64 can be written.
      constexpr std::uint64_t limit = std::uint64_t{1} << 63;
      if (tok().integer > limit) return fail(tok().offset, "integer literal out of range");
      const std::int64_t v = tok().integer == limit ? std::numeric_limits<std::int64_t>::min()
                                                    : -static_cast<std::int64_t>(tok().integer);
      push_const(Value::integer(v), offset);
      ++pos_;
      return true;
    }
    if (t.kind == Tok::minus && tok().kind == Tok::real) {
      push_const(Value::real(-tok().real), offset);
      ++pos_;
      return true;
    }
    if (!unary()) return false;
    emit(t.kind == Tok::minus ? Op::neg : Op::not_, 0, offset);
    return true;
  }

  bool primary() {
    const Token& t = tok();
    switch (t.kind) {
      case Tok::integer:
        if (t.integer > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return fail(t.offset, "integer literal out of range");
        }
        push_const(Value::integer(static_cast<std::int64_t>(t.integer)), t.offset);
        break;
      case Tok::real:
        push_const(Value::real(t.real), t.offset);
        break;
      case Tok::string:
        push_string(t.text, t.offset);
        break;
      case Tok::kw_true:
        push_const(Value::boolean(true), t.offset);
        break;
      case Tok::kw_false:
        push_const(Value::boolean(false), t.offset);
        break;
      case Tok::kw_null:
        push_const(Value(), t.offset);
        break;
      case Tok::lparen: {
        const std::size_t open = t.offset;
        ++pos_;
        if (!expression(Prec::or_)) return false;
        if (tok().kind != Tok::rparen) return missing_close(')', open, "expected ')'");
        break;
      }
      case Tok::dollar:
      case Tok::ident:
        if (t.kind == Tok::ident && next_tok().kind == Tok::lparen) return call();
        if (t.kind == Tok::ident && t.text == "not" && starts_operand(next_tok().kind)) {
          return fail(t.offset, "unexpected 'not'", "use '!'");
        }
        return path(Op::load);
      case Tok::lbracket:
        return fail(t.offset, "a list is only allowed after 'in'");
      default:
        return fail(t.offset, "expected an operand, found " + describe(t, src_));
    }
    ++pos_;
    return true;
  }

  // At an identifier or '$'.
  bool path(Op op) {
    const std::size_t offset = tok().offset;
    std::vector<PathSegment> segments;
    if (tok().kind == Tok::ident) segments.push_back({tok().text, 0, false});
    ++pos_;
    if (!parse_path_steps(toks_, pos_, src_, segments, err_)) return false;
    p_.paths.emplace_back(std::move(segments));
    emit(op, 1, offset, static_cast<std::uint32_t>(p_.paths.size() - 1));
    return true;
  }

  static std::string arity_message(std::string_view name, std::size_t want, std::size_t got) {
    return std::string(name) + "() takes " + std::to_string(want) + (want == 1 ? " argument" : " arguments") +
           ", got " + std::to_string(got);
  }

  // At the function name; the next token is '('.
  bool call() {
    const Token& name = tok();
    const std::size_t open = next_tok().offset;
    pos_ += 2;
    const bool is_has = name.text == "has";
    std::uint32_t id = 0;
    const FunctionInfo* fn = is_has ? nullptr : find_function(name.text, id);
    if (!is_has && fn == nullptr) {
      const std::string_view near = suggest_function(name.text);
      return fail(name.offset, "unknown function '" + name.text + "'",
                  near.empty() ? std::string() : "did you mean '" + std::string(near) + "'?");
    }
    std::size_t argc = 0;
    if (tok().kind != Tok::rparen) {
      while (true) {
        if (is_has && argc == 0) {
          const Tok k = tok().kind;
          const std::size_t arg = tok().offset;
          if (k != Tok::dollar && !(k == Tok::ident && next_tok().kind != Tok::lparen)) {
            return fail(arg, "has() expects a field path", "e.g. has(meta.id)");
          }
          if (!path(Op::has)) return false;
          if (precedence(tok().kind) != Prec::none) {
            return fail(arg, "has() expects a field path", "e.g. has(meta.id)");
          }
        } else if (!expression(Prec::or_)) {
          return false;
        }
        ++argc;
        if (tok().kind == Tok::comma) {
          ++pos_;
          continue;
        }
        if (tok().kind == Tok::rparen) break;
        return missing_close(')', open, "expected ',' or ')'");
      }
    }
    const std::size_t want = is_has ? 1 : fn->arity;
    if (argc != want) return fail(name.offset, arity_message(name.text, want, argc));
    if (!is_has) {
      emit(Op::call, 1 - static_cast<int>(argc), name.offset, id, static_cast<std::uint32_t>(argc));
    }
    ++pos_;
    return true;
  }

  std::string_view src_;
  CompileError& err_;
  ProgramImpl& p_;
  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
  std::size_t nesting_ = 0;
};

}  // namespace
}  // namespace detail

std::optional<Program> Program::compile(std::string_view source, CompileError& err) {
  auto impl = std::make_shared<detail::ProgramImpl>();
  impl->source = std::string(source);
  if (!detail::Compiler(impl->source, err, *impl).run()) return std::nullopt;
  return Program(std::move(impl));
}

const std::string& Program::source() const {
  return impl_->source;
}

}  // namespace weir::sdk::expr
