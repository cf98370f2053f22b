#include "sdk/expr/program.hpp"

#include <boost/json/value.hpp>

#include <cmath>
#include <limits>

namespace weir::sdk::expr::detail {
namespace {

const char* symbol(Op op) {
  switch (op) {
    case Op::add:
      return "+";
    case Op::sub:
      return "-";
    case Op::mul:
      return "*";
    case Op::div:
      return "/";
    default:
      return "%";
  }
}

bool integer_arithmetic(Op op, std::int64_t a, std::int64_t b, Value& out, std::string& err) {
  std::int64_t r = 0;
  bool overflow = false;
  switch (op) {
    case Op::add:
      overflow = __builtin_add_overflow(a, b, &r);
      break;
    case Op::sub:
      overflow = __builtin_sub_overflow(a, b, &r);
      break;
    case Op::mul:
      overflow = __builtin_mul_overflow(a, b, &r);
      break;
    case Op::div:
      if (b == 0) {
        err = "division by zero";
        return false;
      }
      // JSON does not tell 64 from 64.0, so neither does '/': an exact quotient stays an integer,
      // any other is the double a reader expects (7 / 2 is 3.5, as in JavaScript, jq or VRL).
      if (b == -1) {
        overflow = a == std::numeric_limits<std::int64_t>::min();
        r = overflow ? 0 : -a;
      } else if (a % b == 0) {
        r = a / b;
      } else {
        out = Value::real(static_cast<double>(a) / static_cast<double>(b));
        return true;
      }
      break;
    default:
      if (b == 0) {
        err = "modulo by zero";
        return false;
      }
      // INT64_MIN % -1 traps on x86 although the answer is 0.
      r = b == -1 ? 0 : a % b;
      break;
  }
  if (overflow) {
    err = std::string("integer overflow in '") + symbol(op) + "'";
    return false;
  }
  out = Value::integer(r);
  return true;
}

bool real_arithmetic(Op op, double a, double b, Value& out, std::string& err) {
  double r = 0;
  switch (op) {
    case Op::add:
      r = a + b;
      break;
    case Op::sub:
      r = a - b;
      break;
    case Op::mul:
      r = a * b;
      break;
    case Op::div:
      if (b == 0) {
        err = "division by zero";
        return false;
      }
      r = a / b;
      break;
    default:
      if (b == 0) {
        err = "modulo by zero";
        return false;
      }
      r = std::fmod(a, b);
      break;
  }
  // JSON has no infinity or NaN, so such a result could not be written out.
  if (!std::isfinite(r)) {
    err = std::string("result of '") + symbol(op) + "' is not a finite number";
    return false;
  }
  out = Value::real(r);
  return true;
}

}  // namespace

Value from_json(const boost::json::value* v) {
  if (v == nullptr) return {};
  switch (v->kind()) {
    case boost::json::kind::null:
      return {};
    case boost::json::kind::bool_:
      return Value::boolean(v->get_bool());
    case boost::json::kind::int64:
      return Value::integer(v->get_int64());
    case boost::json::kind::uint64: {
      const std::uint64_t u = v->get_uint64();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Value::integer(static_cast<std::int64_t>(u));
      }
      return Value::real(static_cast<double>(u));
    }
    case boost::json::kind::double_:
      return Value::real(v->get_double());
    case boost::json::kind::string:
      return Value::string(v->get_string());
    case boost::json::kind::array:
    case boost::json::kind::object: {
      Value r;
      r.type = Type::json;
      r.j = v;
      return r;
    }
  }
  return {};
}

boost::json::value to_json(const Value& v) {
  switch (v.type) {
    case Type::null:
      return nullptr;
    case Type::boolean:
      return v.b;
    case Type::integer:
      return v.i;
    case Type::real:
      return v.d;
    case Type::string:
      return boost::json::string(v.str());
    case Type::json:
      return *v.j;
  }
  return nullptr;
}

const char* type_name(const Value& v) {
  switch (v.type) {
    case Type::null:
      return "null";
    case Type::boolean:
      return "boolean";
    case Type::integer:
    case Type::real:
      return "number";
    case Type::string:
      return "string";
    case Type::json:
      return v.j->is_array() ? "array" : "object";
  }
  return "value";
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type == Type::integer && b.type == Type::integer) return a.i == b.i;
    return a.as_double() == b.as_double();
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case Type::null:
      return true;
    case Type::boolean:
      return a.b == b.b;
    case Type::string:
      return a.str() == b.str();
    case Type::json:
      return *a.j == *b.j;
    default:
      return false;
  }
}

bool compare(Op op, const Value& a, const Value& b) {
  int c = 0;
  if (a.is_number() && b.is_number()) {
    if (a.type == Type::integer && b.type == Type::integer) {
      c = a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    } else {
      const double x = a.as_double();
      const double y = b.as_double();
      c = x < y ? -1 : (x > y ? 1 : 0);
    }
  } else if (a.type == Type::string && b.type == Type::string) {
    c = a.str().compare(b.str());
  } else {
    return false;
  }
  switch (op) {
    case Op::lt:
      return c < 0;
    case Op::le:
      return c <= 0;
    case Op::gt:
      return c > 0;
    default:
      return c >= 0;
  }
}

bool arithmetic(Op op, const Value& a, const Value& b, Value& out, Scratch& scratch, std::string& err) {
  if (a.type == Type::null || b.type == Type::null) {
    out = Value();
    return true;
  }
  if (op == Op::add && a.type == Type::string && b.type == Type::string) {
    std::string joined;
    joined.reserve(a.s.size + b.s.size);
    joined.append(a.str()).append(b.str());
    out = Value::string(scratch.keep(std::move(joined)));
    return true;
  }
  if (!a.is_number() || !b.is_number()) {
    err = std::string("'") + symbol(op) + "' expects " +
          (op == Op::add ? "two numbers or two strings" : "numbers") + ", got " + type_name(a) + " and " +
          type_name(b);
    return false;
  }
  if (a.type == Type::integer && b.type == Type::integer) {
    return integer_arithmetic(op, a.i, b.i, out, err);
  }
  return real_arithmetic(op, a.as_double(), b.as_double(), out, err);
}

bool negate(const Value& a, Value& out, std::string& err) {
  switch (a.type) {
    case Type::null:
      out = Value();
      return true;
    case Type::integer:
      if (a.i == std::numeric_limits<std::int64_t>::min()) {
        err = "integer overflow in unary '-'";
        return false;
      }
      out = Value::integer(-a.i);
      return true;
    case Type::real:
      out = Value::real(-a.d);
      return true;
    default:
      err = std::string("unary '-' expects a number, got ") + type_name(a);
      return false;
  }
}

}  // namespace weir::sdk::expr::detail
