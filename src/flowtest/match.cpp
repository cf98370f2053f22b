#include "flowtest/match.hpp"

#include <boost/json.hpp>

#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"

namespace weir::flowtest {

namespace json = boost::json;

namespace {

bool number(const json::value& v) {
  return v.is_int64() || v.is_uint64() || v.is_double();
}

bool numbers_equal(const json::value& a, const json::value& b) {
  if (a.is_double() || b.is_double()) return a.to_number<double>() == b.to_number<double>();
  if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
  if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
  const auto& i = a.is_int64() ? a : b;  // one int64, one uint64
  const auto& u = a.is_int64() ? b : a;
  return i.get_int64() >= 0 && static_cast<std::uint64_t>(i.get_int64()) == u.get_uint64();
}

std::string records(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " record" : " records");
}

std::string compact(const json::value& v) {
  return sdk::to_json(v);
}

std::string diff_at(const json::value& e, const json::value& a, bool subset, const std::string& ptr) {
  if (number(e) && number(a)) {
    if (numbers_equal(e, a)) return {};
  } else if (e.kind() != a.kind()) {
    return (ptr.empty() ? "/" : ptr) + ": expected " + compact(e) + ", got " + compact(a);
  } else if (e.is_object()) {
    const auto& eo = e.get_object();
    const auto& ao = a.get_object();
    for (const auto& m : eo) {
      const auto p = sdk::pointer_append(ptr, m.key());
      const auto* av = ao.if_contains(m.key());
      if (av == nullptr) return p + ": missing (expected " + compact(m.value()) + ")";
      auto d = diff_at(m.value(), *av, subset, p);
      if (!d.empty()) return d;
    }
    if (!subset)
      for (const auto& m : ao)
        if (!eo.contains(m.key()))
          return sdk::pointer_append(ptr, m.key()) + ": not expected (got " + compact(m.value()) + ")";
    return {};
  } else if (e.is_array()) {
    const auto& ea = e.get_array();
    const auto& aa = a.get_array();
    for (std::size_t i = 0; i < ea.size() && i < aa.size(); ++i) {
      auto d = diff_at(ea[i], aa[i], subset, sdk::pointer_append(ptr, i));
      if (!d.empty()) return d;
    }
    if (ea.size() != aa.size())
      return (ptr.empty() ? "/" : ptr) + ": expected " + std::to_string(ea.size()) + " elements, got " +
             std::to_string(aa.size());
    return {};
  } else if (e == a) {
    return {};
  }
  return (ptr.empty() ? "/" : ptr) + ": expected " + compact(e) + ", got " + compact(a);
}

void list(std::vector<std::string>& out, const char* what, const std::vector<const json::value*>& values,
          std::size_t first_index) {
  for (std::size_t i = 0; i < values.size() && i < diff_max_records; ++i)
    out.push_back(std::string(what) + "[" + std::to_string(first_index + i) + "]: " + compact(*values[i]));
  if (values.size() > diff_max_records)
    out.push_back("... and " + std::to_string(values.size() - diff_max_records) + " more");
}

void list_received(std::vector<std::string>& out, const std::vector<sdk::Record>& actual) {
  std::vector<const json::value*> all;
  all.reserve(actual.size());
  for (const auto& r : actual) all.push_back(&r.value);
  if (all.empty()) out.push_back("received nothing");
  list(out, "received", all, 0);
}

// exact or subset over the whole list, index by index.
void check_list(std::vector<std::string>& out, const char* mode, const json::array& expected,
                const std::vector<sdk::Record>& actual, bool subset) {
  std::size_t differ = 0, first = expected.size();
  std::string where;
  for (std::size_t i = 0; i < expected.size() && i < actual.size(); ++i) {
    auto d = first_difference(expected[i], actual[i].value, subset);
    if (d.empty()) continue;
    if (differ++ == 0) {
      first = i;
      where = std::move(d);
    }
  }
  if (differ == 0 && expected.size() == actual.size()) return;
  out.push_back(std::string(mode) + ": expected " + records(expected.size()) + ", got " +
                std::to_string(actual.size()) +
                (differ ? "; " + std::to_string(differ) + (differ == 1 ? " differs" : " differ") +
                              ", the first at index " + std::to_string(first)
                        : std::string()));
  if (differ) {
    out.push_back("at [" + std::to_string(first) + "]" + where);
    out.push_back("expected[" + std::to_string(first) + "]: " + compact(expected[first]));
    out.push_back("actual[" + std::to_string(first) + "]:   " + compact(actual[first].value));
  }
  std::vector<const json::value*> rest;
  for (std::size_t i = actual.size(); i < expected.size(); ++i) rest.push_back(&expected[i]);
  list(out, "missing expected", rest, actual.size());
  rest.clear();
  for (std::size_t i = expected.size(); i < actual.size(); ++i) rest.push_back(&actual[i].value);
  list(out, "extra actual", rest, expected.size());
}

void check_contains(std::vector<std::string>& out, const json::array& expected,
                    const std::vector<sdk::Record>& actual) {
  std::vector<bool> used(actual.size(), false);
  std::vector<std::string> missing;
  for (std::size_t k = 0; k < expected.size(); ++k) {
    bool found = false;
    for (std::size_t i = 0; i < actual.size() && !found; ++i) {
      if (used[i] || !json_subset(expected[k], actual[i].value)) continue;
      used[i] = found = true;
    }
    if (!found) missing.push_back("not found: expected[" + std::to_string(k) + "]: " + compact(expected[k]));
  }
  if (missing.empty()) return;
  out.push_back("contains: " + std::to_string(missing.size()) + " of " + records(expected.size()) +
                " expected not found among " + std::to_string(actual.size()));
  for (std::size_t i = 0; i < missing.size() && i < diff_max_records; ++i) out.push_back(missing[i]);
  if (missing.size() > diff_max_records)
    out.push_back("... and " + std::to_string(missing.size() - diff_max_records) + " more");
  list_received(out, actual);
}

void check_all(std::vector<std::string>& out, const sdk::expr::Program& program,
               const std::vector<sdk::Record>& actual) {
  std::size_t failed = 0;
  std::string first;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    bool pass = false;
    sdk::expr::EvalError err;
    const bool ran = program.test(actual[i].value, pass, err);
    if (ran && pass) continue;
    if (failed++ == 0)
      first = "[" + std::to_string(i) + "]" + (ran ? "" : " (" + err.message + ")") + ": " +
              compact(actual[i].value);
  }
  if (failed == 0) return;
  out.push_back("all: " + std::to_string(failed) + " of " + records(actual.size()) + " fail " +
                sdk::quote(program.source(), 200) + ", the first:");
  out.push_back(first);
}

}  // namespace

bool json_equal(const json::value& a, const json::value& b) {
  return diff_at(a, b, false, "").empty();
}

bool json_subset(const json::value& expected, const json::value& actual) {
  return diff_at(expected, actual, true, "").empty();
}

std::string first_difference(const json::value& expected, const json::value& actual, bool subset) {
  return diff_at(expected, actual, subset, "");
}

std::vector<std::string> check(const Expectation& e, const std::vector<sdk::Record>& actual) {
  std::vector<std::string> out;
  if (e.exact) check_list(out, "exact", *e.exact, actual, false);
  if (e.subset) check_list(out, "subset", *e.subset, actual, true);
  if (e.contains) check_contains(out, *e.contains, actual);
  if (e.count && *e.count != actual.size()) {
    out.push_back("count: expected " + records(*e.count) + ", got " + std::to_string(actual.size()));
    list_received(out, actual);
  }
  if (e.all) check_all(out, *e.all, actual);
  return out;
}

}  // namespace weir::flowtest
