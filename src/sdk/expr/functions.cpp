#include "sdk/base/json_write.hpp"
#include "sdk/base/suggest.hpp"
#include "sdk/expr/program.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>

namespace weir::sdk::expr {

namespace {
// One per thread: a test's virtual clock never leaks into the engine's other threads.
thread_local const std::function<std::int64_t()>* thread_clock = nullptr;
}  // namespace

std::int64_t now_ms() {
  if (thread_clock != nullptr) return (*thread_clock)();
  const auto since = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
}

ClockOverride::ClockOverride(const std::function<std::int64_t()>& now) : previous_(thread_clock) {
  thread_clock = &now;
}

ClockOverride::~ClockOverride() {
  thread_clock = previous_;
}

}  // namespace weir::sdk::expr

namespace weir::sdk::expr::detail {
namespace {

enum Fn : std::uint32_t { lower, upper, len, contains, starts_with, ends_with, now, div };

// Indexed by Fn.
constexpr std::array<FunctionInfo, 8> functions{{
    {"lower", 1},
    {"upper", 1},
    {"len", 1},
    {"contains", 2},
    {"starts_with", 2},
    {"ends_with", 2},
    {"now", 0},
    {"div", 2},
}};

// Only allocates when some character actually changes, so lower() of an already lower-case field
// stays allocation-free.
Value map_ascii(std::string_view s, bool to_upper, Scratch& scratch) {
  auto changes = [&](char c) { return to_upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z'); };
  if (std::none_of(s.begin(), s.end(), changes)) return Value::string(s);
  std::string out(s);
  for (char& c : out) {
    if (changes(c)) c = static_cast<char>(c ^ 0x20);
  }
  return Value::string(scratch.keep(std::move(out)));
}

std::int64_t code_points(std::string_view s) {
  // Counts every byte that does not continue a UTF-8 sequence.
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// A number that is whole and fits an int64: 7 and 7.0 alike.
bool whole(const Value& v, std::int64_t& out) {
  if (v.type == Type::integer) {
    out = v.i;
    return true;
  }
  if (v.type != Type::real || std::trunc(v.d) != v.d || !(std::fabs(v.d) < 9.2233720368547758e18))
    return false;
  out = static_cast<std::int64_t>(v.d);
  return true;
}

bool type_error(std::string& err, Fn fn, const char* expected, const Value* args) {
  err = std::string(functions[fn].name) + "() expects " + expected + ", got " + type_name(args[0]);
  if (functions[fn].arity == 2) err += std::string(" and ") + type_name(args[1]);
  if (fn == contains && args[0].type == Type::json && args[0].j->is_array()) {
    err += "; use 'x in array' for arrays";
  }
  return false;
}

}  // namespace

const FunctionInfo* find_function(std::string_view name, std::uint32_t& id) {
  for (std::uint32_t i = 0; i < functions.size(); ++i) {
    if (functions[i].name == name) {
      id = i;
      return &functions[i];
    }
  }
  return nullptr;
}

std::string_view suggest_function(std::string_view name) {
  if (name == "length" || name == "size" || name == "count") return "len";
  if (name == "exists" || name == "defined") return "has";
  // Function names are lower case: compare without regard to case ("LOWR" → lower).
  std::string lowered(name);
  for (char& c : lowered)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c ^ 0x20);
  std::string_view best;
  std::size_t best_distance = std::min<std::size_t>(2, std::max<std::size_t>(1, name.size() / 3));
  auto consider = [&](std::string_view candidate) {
    const std::size_t d = sdk::edit_distance(lowered, candidate);
    if (d <= best_distance) {
      best = candidate;
      best_distance = d;
    }
  };
  for (const FunctionInfo& f : functions) consider(f.name);
  consider("has");
  return best;
}

bool call_function(std::uint32_t id, const Value* args, Value& out, Scratch& scratch, std::string& err) {
  const Fn fn = static_cast<Fn>(id);
  for (std::uint32_t i = 0; i < functions[fn].arity; ++i) {
    if (args[i].type == Type::null) {
      out = Value();
      return true;
    }
  }
  switch (fn) {
    case lower:
    case upper:
      if (args[0].type != Type::string) return type_error(err, fn, "a string", args);
      out = map_ascii(args[0].str(), fn == upper, scratch);
      return true;
    case len:
      if (args[0].type == Type::string) {
        out = Value::integer(code_points(args[0].str()));
      } else if (args[0].type == Type::json) {
        const boost::json::value& v = *args[0].j;
        out = Value::integer(
            static_cast<std::int64_t>(v.is_array() ? v.get_array().size() : v.get_object().size()));
      } else {
        return type_error(err, fn, "a string, an array or an object", args);
      }
      return true;
    case contains:
    case starts_with:
    case ends_with: {
      if (args[0].type != Type::string || args[1].type != Type::string) {
        return type_error(err, fn, "two strings", args);
      }
      const std::string_view s = args[0].str();
      const std::string_view sub = args[1].str();
      const bool r = fn == contains      ? s.find(sub) != std::string_view::npos
                     : fn == starts_with ? s.starts_with(sub)
                                         : s.ends_with(sub);
      out = Value::boolean(r);
      return true;
    }
    case div: {
      std::int64_t a = 0, b = 0;
      if (!args[0].is_number() || !args[1].is_number()) return type_error(err, fn, "two numbers", args);
      if (!whole(args[0], a) || !whole(args[1], b)) {
        err = "div() expects two whole numbers, got " + sdk::to_json(to_json(args[0])) + " and " +
              sdk::to_json(to_json(args[1]));
        return false;
      }
      if (b == 0) {
        err = "div() by zero";
        return false;
      }
      if (b == -1 && a == std::numeric_limits<std::int64_t>::min()) {
        err = "integer overflow in div()";
        return false;
      }
      out = Value::integer(a / b);
      return true;
    }
    case now:
      out = Value::integer(now_ms());
      return true;
  }
  err = "unknown function";
  return false;
}

}  // namespace weir::sdk::expr::detail
