// The stack machine. Everything here lives on the C++ stack: the only allocations are the strings
// that lower()/upper()/"a" + "b" build, and the messages of evaluation errors.
#include "sdk/expr/program.hpp"

#include <boost/json/value.hpp>

namespace weir::sdk::expr {
namespace detail {
namespace {

// Uninitialised storage: zeroing max_stack values per evaluation would cost more than a typical
// filter does.
union Slot {
  Slot() {}
  Value v;
};

bool fail(EvalError& err, const Instruction& in, std::string message) {
  err.offset = in.offset;
  err.message = std::move(message);
  return false;
}

// null counts as false for && || !, anything but a boolean is an error.
bool truth(const Value& v, bool& out) {
  if (v.type == Type::boolean) {
    out = v.b;
    return true;
  }
  out = false;
  return v.type == Type::null;
}

std::string logic_error(const char* op, const Value& v) {
  return std::string("'") + op + "' expects booleans, got " + type_name(v);
}

bool member_of(const Value& x, const boost::json::array& a) {
  for (const boost::json::value& e : a) {
    if (equals(x, from_json(&e))) return true;
  }
  return false;
}

}  // namespace

bool run(const ProgramImpl& p, const boost::json::value& record, Value& out, Scratch& scratch,
         EvalError& err) {
  Slot stack[max_stack];
  std::size_t sp = 0;
  std::string message;
  const std::size_t n = p.code.size();
  std::size_t pc = 0;
  while (pc < n) {
    const Instruction& in = p.code[pc++];
    switch (in.op) {
      case Op::push_const:
        stack[sp++].v = p.constants[in.a];
        break;
      case Op::load:
        stack[sp++].v = from_json(find_path(record, p.paths[in.a]));
        break;
      case Op::has:
        stack[sp++].v = Value::boolean(find_path(record, p.paths[in.a]) != nullptr);
        break;
      case Op::neg:
        if (!negate(stack[sp - 1].v, stack[sp - 1].v, message)) return fail(err, in, message);
        break;
      case Op::not_: {
        bool b = false;
        if (!truth(stack[sp - 1].v, b)) return fail(err, in, logic_error("!", stack[sp - 1].v));
        stack[sp - 1].v = Value::boolean(!b);
        break;
      }
      case Op::add:
      case Op::sub:
      case Op::mul:
      case Op::div:
      case Op::mod: {
        --sp;
        Value& a = stack[sp - 1].v;
        if (!arithmetic(in.op, a, stack[sp].v, a, scratch, message)) {
          return fail(err, in, message);
        }
        break;
      }
      case Op::eq:
      case Op::ne: {
        --sp;
        Value& a = stack[sp - 1].v;
        a = Value::boolean(equals(a, stack[sp].v) == (in.op == Op::eq));
        break;
      }
      case Op::lt:
      case Op::le:
      case Op::gt:
      case Op::ge: {
        --sp;
        Value& a = stack[sp - 1].v;
        a = Value::boolean(compare(in.op, a, stack[sp].v));
        break;
      }
      case Op::and_jump:
      case Op::or_jump: {
        const bool is_and = in.op == Op::and_jump;
        bool b = false;
        if (!truth(stack[sp - 1].v, b)) {
          return fail(err, in, logic_error(is_and ? "&&" : "||", stack[sp - 1].v));
        }
        if (b != is_and) {  // decided: false for &&, true for ||
          stack[sp - 1].v = Value::boolean(b);
          pc = in.a;
        } else {
          --sp;
        }
        break;
      }
      case Op::to_bool: {
        bool b = false;
        if (!truth(stack[sp - 1].v, b)) {
          return fail(err, in, logic_error(in.a == 0 ? "&&" : "||", stack[sp - 1].v));
        }
        stack[sp - 1].v = Value::boolean(b);
        break;
      }
      case Op::in_const: {
        Value& x = stack[sp - 1].v;
        bool found = false;
        for (std::uint32_t k = 0; k < in.b && !found; ++k) found = equals(x, p.constants[in.a + k]);
        x = Value::boolean(found);
        break;
      }
      case Op::in_elem:
        --sp;
        if (equals(stack[sp - 1].v, stack[sp].v)) {
          stack[sp - 1].v = Value::boolean(true);
          pc = in.a;
        }
        break;
      case Op::in_end:
        stack[sp - 1].v = Value::boolean(false);
        break;
      case Op::in_value: {
        --sp;
        const Value& list = stack[sp].v;
        Value& x = stack[sp - 1].v;
        if (list.type == Type::null) {
          x = Value::boolean(false);
        } else if (list.type == Type::json && list.j->is_array()) {
          x = Value::boolean(member_of(x, list.j->get_array()));
        } else {
          return fail(err, in, std::string("'in' expects a list or an array, got ") + type_name(list));
        }
        break;
      }
      case Op::call: {
        sp -= in.b;
        Value result;
        if (!call_function(in.a, &stack[sp].v, result, scratch, message)) {
          return fail(err, in, message);
        }
        stack[sp++].v = result;
        break;
      }
    }
  }
  out = stack[0].v;
  return true;
}

}  // namespace detail

bool Program::test(const boost::json::value& record, bool& result, EvalError& err) const {
  detail::Scratch scratch;
  detail::Value v;
  if (!detail::run(*impl_, record, v, scratch, err)) return false;
  if (v.type == detail::Type::boolean) {
    result = v.b;
    return true;
  }
  if (v.type == detail::Type::null) {
    result = false;
    return true;
  }
  err.offset = 0;
  err.message = std::string("a filter must give a boolean, got ") + detail::type_name(v);
  return false;
}

bool Program::eval(const boost::json::value& record, boost::json::value& out, EvalError& err) const {
  detail::Scratch scratch;
  detail::Value v;
  if (!detail::run(*impl_, record, v, scratch, err)) return false;
  out = detail::to_json(v);
  return true;
}

}  // namespace weir::sdk::expr
