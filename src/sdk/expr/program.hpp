// Internal: the compiled form of an expression and the values the evaluator works on.
#pragma once

#include "sdk/expr/expr.hpp"

#include <cstdint>
#include <forward_list>
#include <string>
#include <string_view>
#include <vector>

namespace weir::sdk::expr::detail {

enum class Type : std::uint8_t { null, boolean, integer, real, string, json };

// Evaluation values never own memory, so the evaluator copies them freely and allocates nothing:
// strings view into the record, the program's constants or the per-evaluation Scratch; arrays
// and objects are pointers into the record.
struct Value {
  struct Str {
    const char* data;
    std::size_t size;
  };
  Type type = Type::null;
  union {
    bool b;
    std::int64_t i;
    double d;
    Str s;
    const boost::json::value* j;
  };

  Value() : i(0) {}
  static Value boolean(bool v) {
    Value r;
    r.type = Type::boolean;
    r.b = v;
    return r;
  }
  static Value integer(std::int64_t v) {
    Value r;
    r.type = Type::integer;
    r.i = v;
    return r;
  }
  static Value real(double v) {
    Value r;
    r.type = Type::real;
    r.d = v;
    return r;
  }
  static Value string(std::string_view v) {
    Value r;
    r.type = Type::string;
    r.s = {v.data(), v.size()};
    return r;
  }
  std::string_view str() const { return {s.data, s.size}; }
  bool is_number() const { return type == Type::integer || type == Type::real; }
  double as_double() const { return type == Type::integer ? static_cast<double>(i) : d; }
};

// Null for a missing value; scalars are unwrapped so that a field and a literal compare alike.
Value from_json(const boost::json::value* v);
boost::json::value to_json(const Value& v);
// "null", "boolean", "number", "string", "array", "object": the words used in error messages.
const char* type_name(const Value& v);

// Holds the strings built during one evaluation (lower(), "a" + "b"); the views in Values stay
// valid because list nodes never move. Empty, it costs nothing.
class Scratch {
 public:
  std::string_view keep(std::string s) { return strings_.emplace_front(std::move(s)); }

 private:
  std::forward_list<std::string> strings_;
};

enum class Op : std::uint8_t {
  push_const,  // a: constant index
  load,        // a: path index
  has,         // a: path index
  neg,
  not_,
  add,
  sub,
  mul,
  div,
  mod,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  and_jump,  // a: target; false/null -> replace top with false and jump, true -> pop
  or_jump,   // a: target; true -> jump, false/null -> pop
  to_bool,   // checks the right operand of && and ||, null -> false
  in_const,  // a: first constant, b: count; replaces top with membership
  in_elem,   // a: target; pops an element, on a match replaces top with true and jumps
  in_end,    // no element matched: replaces top with false
  in_value,  // pops an array, replaces top with membership
  call,      // a: function id, b: argument count
};

struct Instruction {
  Op op;
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  std::uint32_t offset = 0;  // in the source, for evaluation errors
};

// Upper bound on the evaluator stack, checked at compile time so evaluation can use a fixed array.
inline constexpr std::size_t max_stack = 128;

// Shared, never copied and never changed after compile: the string constants view into `strings`.
struct ProgramImpl {
  std::string source;
  std::vector<Instruction> code;
  std::vector<std::string> strings;
  std::vector<Value> constants;
  std::vector<Path> paths;
  std::size_t max_depth = 0;

  ProgramImpl() = default;
  ProgramImpl(const ProgramImpl&) = delete;
  ProgramImpl& operator=(const ProgramImpl&) = delete;
};

// Runs `p` over `record`; on success `out` may view into the record, `p` or `scratch`.
bool run(const ProgramImpl& p, const boost::json::value& record, Value& out, Scratch& scratch,
         EvalError& err);

// Operators (operators.cpp). They return false and fill `err` on a type or arithmetic error.
bool equals(const Value& a, const Value& b);
bool compare(Op op, const Value& a, const Value& b);  // lt le gt ge; false across types
bool arithmetic(Op op, const Value& a, const Value& b, Value& out, Scratch& scratch, std::string& err);
bool negate(const Value& a, Value& out, std::string& err);

// Functions (functions.cpp). `has` is not here: the compiler turns it into Op::has.
struct FunctionInfo {
  std::string_view name;
  std::uint32_t arity;
};
const FunctionInfo* find_function(std::string_view name, std::uint32_t& id);
// Closest known name (has() included) within a small edit distance, or empty.
std::string_view suggest_function(std::string_view name);
bool call_function(std::uint32_t id, const Value* args, Value& out, Scratch& scratch, std::string& err);

}  // namespace weir::sdk::expr::detail
