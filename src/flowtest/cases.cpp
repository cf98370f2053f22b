#include "flowtest/cases.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "sdk/base/quote.hpp"
#include "sdk/base/suggest.hpp"
#include "sdk/base/units.hpp"
#include "sdk/field.hpp"

namespace weir::flowtest {

namespace json = boost::json;

namespace {

using sdk::pointer_append;
using sdk::quote;

// Parsing state: the diagnostics and the flow the cases are checked against.
struct Parser {
  const flow::Flow& flow;
  sdk::Diagnostics& diags;

  void wrong_type(const std::string& ptr, const char* expected, const json::value& v) {
    diags.error(ptr, "wrong_type",
                std::string("expected ") + expected + ", got " + sdk::detail::kind_name(v));
  }

  // Members outside `known` are unknown_field errors with a "did you mean".
  bool check_keys(const json::object& o, const std::string& ptr, const std::vector<std::string>& known) {
    bool ok = true;
    for (const auto& m : o) {
      const std::string key(m.key());
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      diags.error(pointer_append(ptr, key), "unknown_field", "unknown field " + quote(key),
                  sdk::did_you_mean(key, known));
      ok = false;
    }
    return ok;
  }

  std::optional<Millis> duration(const json::value& v, const std::string& ptr) {
    if (!v.is_string()) {
      wrong_type(ptr, "a duration string (\"250ms\", \"2s\", \"1m\")", v);
      return std::nullopt;
    }
    std::string error;
    auto d = sdk::parse_duration(v.get_string(), &error);
    if (!d) {
      diags.error(ptr, "invalid_value", error.empty() ? "not a duration: " + quote(v.get_string()) : error,
                  "use a number with a unit: 250ms, 2s, 1m");
      return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
  }

  // A moment: ms since the epoch (an integer) or RFC 3339 text.
  std::optional<Millis> moment(const json::value& v, const std::string& ptr) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<Millis>(v.get_uint64());
    if (v.is_string()) {
      if (auto t = parse_rfc3339(v.get_string())) return t;
      diags.error(ptr, "invalid_value", "not an RFC 3339 time: " + quote(v.get_string()),
                  "e.g. \"2023-11-14T22:13:20Z\", or ms since the epoch as a number");
      return std::nullopt;
    }
    wrong_type(ptr, "ms since the epoch (an integer) or RFC 3339 text", v);
    return std::nullopt;
  }

  std::vector<std::string> ids_of(sdk::Kind kind) const {
    std::vector<std::string> out;
    for (const auto& c : flow.components)
      if (c.info->kind == kind) out.push_back(c.id);
    return out;
  }

  std::optional<Step> step(const json::value& v, const std::string& ptr) {
    const auto* o = v.if_object();
    if (o == nullptr) {
      wrong_type(ptr, "an object", v);
      return std::nullopt;
    }
    Step s;
    s.pointer = ptr;
    const int kinds = int(o->contains("input")) + int(o->contains("advance")) + int(o->contains("restart"));
    if (kinds != 1) {
      diags.error(ptr, kinds == 0 ? "missing_field" : "invalid_value",
                  kinds == 0 ? "a step needs one of \"input\", \"advance\", \"restart\""
                             : "a step takes only one of \"input\", \"advance\", \"restart\"");
      return std::nullopt;
    }
    bool ok = true;
    if (const auto* at = o->if_contains("at")) {
      const auto at_ptr = pointer_append(ptr, "at");
      if (at->is_string() && at->get_string().starts_with("+")) {
        auto d = duration(json::value(at->get_string().subview(1)), at_ptr);
        ok = ok && d.has_value();
        if (d) s.after = *d;
      } else {
        s.at = moment(*at, at_ptr);
        ok = ok && s.at.has_value();
      }
    }
    if (const auto* in = o->if_contains("input")) {
      s.kind = Step::Kind::input;
      ok = check_keys(*o, ptr, {"input", "record", "id", "at"}) && ok;
      const auto in_ptr = pointer_append(ptr, "input");
      if (!in->is_string()) {
        wrong_type(in_ptr, "an input component id", *in);
        return std::nullopt;
      }
      const std::string id(in->get_string());
      s.input = flow.index_of(id);
      const auto inputs = ids_of(sdk::Kind::input);
      if (s.input == static_cast<std::size_t>(-1) ||
          flow.components[s.input].info->kind != sdk::Kind::input) {
        const bool exists = s.input != static_cast<std::size_t>(-1);
        diags.error(in_ptr, "unknown_input",
                    exists ? quote(id) + " is not an input of the flow (records enter at inputs)"
                           : "no component " + quote(id) + " in the flow",
                    exists || sdk::did_you_mean(id, inputs).empty() ? inputs_hint(inputs)
                                                                    : sdk::did_you_mean(id, inputs));
        ok = false;
      }
      const auto* rec = o->if_contains("record");
      if (rec == nullptr) {
        diags.error(pointer_append(ptr, "record"), "missing_field", "an input step needs a \"record\"");
        ok = false;
      } else {
        s.record = json::value(*rec, {});
      }
      if (const auto* id_v = o->if_contains("id")) {
        if (!id_v->is_string() || id_v->get_string().empty() ||
            id_v->get_string().find_first_of(" \n\r\t") != json::string::npos) {
          diags.error(pointer_append(ptr, "id"), "invalid_value",
                      "a record id is a non-empty string without spaces");
          ok = false;
        } else {
          s.id = id_v->get_string();
        }
      }
    } else if (const auto* adv = o->if_contains("advance")) {
      s.kind = Step::Kind::advance;
      ok = check_keys(*o, ptr, {"advance", "at"}) && ok;
      auto d = duration(*adv, pointer_append(ptr, "advance"));
      ok = ok && d.has_value();
      if (d) s.advance = *d;
    } else {
      s.kind = Step::Kind::restart;
      ok = check_keys(*o, ptr, {"restart", "at"}) && ok;
      const auto& r = o->at("restart");
      if (!r.is_bool() || !r.get_bool()) {
        diags.error(pointer_append(ptr, "restart"), "invalid_value",
                    "\"restart\" takes true (every processor saved, made anew and loaded again)");
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return s;
  }

  static std::string inputs_hint(const std::vector<std::string>& inputs) {
    if (inputs.empty()) return "the flow has no input";
    std::string h = "inputs:";
    for (const auto& i : inputs) h += " " + i;
    return h;
  }

  // `key` names an output component (what it received) or "<component>.<port>".
  bool resolve_key(Expectation& e) {
    const auto dot = e.key.find('.');
    const std::string id = e.key.substr(0, dot);
    const std::string port = dot == std::string::npos ? "" : e.key.substr(dot + 1);
    e.component = flow.index_of(id);
    if (e.component == static_cast<std::size_t>(-1)) {
      std::vector<std::string> ids;
      for (const auto& c : flow.components) ids.push_back(c.id);
      diags.error(e.pointer, "unknown_component", "no component " + quote(id) + " in the flow",
                  sdk::did_you_mean(id, ids));
      return false;
    }
    const auto& decl = flow.components[e.component];
    std::vector<std::string> ports;
    for (const auto& o : decl.info->outputs) ports.push_back(o.name);
    std::string list;
    for (const auto& p : ports) {
      if (!list.empty()) list += ", ";
      list.append(id).append(".").append(p);
    }
    if (dot == std::string::npos) {
      if (decl.info->kind == sdk::Kind::output) return true;
      diags.error(e.pointer, "unknown_port",
                  quote(id) + " is not an output component: name one of its ports (what it emits there)",
                  list);
      return false;
    }
    auto it = std::find(ports.begin(), ports.end(), port);
    if (it == ports.end()) {
      auto hint = sdk::did_you_mean(port, ports);
      diags.error(e.pointer, "unknown_port", quote(id) + " has no port " + quote(port),
                  hint.empty() ? "its ports: " + list : hint);
      return false;
    }
    e.port = static_cast<std::size_t>(it - ports.begin());
    return true;
  }

  std::optional<json::array> records(const json::value& v, const std::string& ptr) {
    if (!v.is_array()) {
      wrong_type(ptr, "an array of records", v);
      return std::nullopt;
    }
    return json::array(v.get_array(), {});
  }

  std::optional<Expectation> expectation(std::string key, const json::value& v, const std::string& ptr,
                                         Mode mode) {
    Expectation e;
    e.key = std::move(key);
    e.pointer = ptr;
    bool ok = resolve_key(e);
    if (v.is_array()) {
      (mode == Mode::exact ? e.exact : e.subset) = json::array(v.get_array(), {});
      if (!ok) return std::nullopt;
      return e;
    }
    const auto* o = v.if_object();
    if (o == nullptr) {
      wrong_type(ptr, "an array of records or an object of matchers (exact, subset, contains, count, all)",
                 v);
      return std::nullopt;
    }
    if (o->empty()) {
      diags.error(ptr, "invalid_value", "no matcher: an expectation checks something",
                  "one or more of exact, subset, contains, count, all");
      return std::nullopt;
    }
    ok = check_keys(*o, ptr, {"exact", "subset", "contains", "count", "all"}) && ok;
    for (auto [name, slot] :
         {std::pair{"exact", &e.exact}, {"subset", &e.subset}, {"contains", &e.contains}}) {
      if (const auto* a = o->if_contains(name)) {
        *slot = records(*a, pointer_append(ptr, name));
        ok = ok && slot->has_value();
      }
    }
    if (const auto* c = o->if_contains("count")) {
      if (c->is_uint64() || (c->is_int64() && c->get_int64() >= 0))
        e.count = c->to_number<std::uint64_t>();
      else {
        diags.error(pointer_append(ptr, "count"), "wrong_type",
                    "expected a record count (an integer >= 0), got " + json::serialize(*c));
        ok = false;
      }
    }
    if (const auto* a = o->if_contains("all")) {
      const auto a_ptr = pointer_append(ptr, "all");
      if (!a->is_string()) {
        wrong_type(a_ptr, "an expression (text)", *a);
        ok = false;
      } else {
        sdk::expr::CompileError err;
        auto program = sdk::expr::Program::compile(a->get_string(), err);
        if (!program) {
          diags.error(a_ptr, "bad_expression",
                      err.message + " at column " + std::to_string(err.offset + 1) + " of the expression",
                      err.hint, static_cast<int>(err.offset));
          ok = false;
        } else {
          e.all = std::make_shared<const sdk::expr::Program>(std::move(*program));
        }
      }
    }
    if (!ok) return std::nullopt;
    return e;
  }

  std::optional<Case> one_case(const json::value& v, const std::string& ptr, std::set<std::string>& names) {
    const auto* o = v.if_object();
    if (o == nullptr) {
      wrong_type(ptr, "an object", v);
      return std::nullopt;
    }
    Case c;
    c.pointer = ptr;
    bool ok = check_keys(*o, ptr, {"name", "description", "start", "steps", "expect", "match"});
    const auto* name = o->if_contains("name");
    if (name == nullptr || !name->is_string() || name->get_string().empty()) {
      if (name == nullptr)
        diags.error(pointer_append(ptr, "name"), "missing_field", "a case needs a \"name\"");
      else
        wrong_type(pointer_append(ptr, "name"), "a non-empty string", *name);
      ok = false;
    } else {
      c.name = name->get_string();
      if (!names.insert(c.name).second) {
        diags.error(pointer_append(ptr, "name"), "duplicate_case", "another case is named " + quote(c.name),
                    "names tell the cases apart in the report");
        ok = false;
      }
    }
    if (const auto* d = o->if_contains("description"); d != nullptr && !d->is_string()) {
      wrong_type(pointer_append(ptr, "description"), "a string", *d);
      ok = false;
    }
    if (const auto* s = o->if_contains("start")) {
      auto t = moment(*s, pointer_append(ptr, "start"));
      ok = ok && t.has_value();
      if (t) c.start = *t;
    }
    Mode mode = Mode::exact;
    if (const auto* m = o->if_contains("match")) {
      if (m->is_string() && m->get_string() == "subset")
        mode = Mode::subset;
      else if (!m->is_string() || m->get_string() != "exact") {
        diags.error(pointer_append(ptr, "match"), "invalid_value",
                    "\"match\" is \"exact\" (the default) or \"subset\"");
        ok = false;
      }
    }
    const auto* steps = o->if_contains("steps");
    if (steps == nullptr) {
      diags.error(pointer_append(ptr, "steps"), "missing_field", "a case needs \"steps\" (an array)");
      ok = false;
    } else if (!steps->is_array()) {
      wrong_type(pointer_append(ptr, "steps"), "an array of steps", *steps);
      ok = false;
    } else {
      const auto& a = steps->get_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        auto s = step(a[i], pointer_append(pointer_append(ptr, "steps"), i));
        ok = ok && s.has_value();
        if (s) c.steps.push_back(std::move(*s));
      }
    }
    const auto* expect = o->if_contains("expect");
    const auto expect_ptr = pointer_append(ptr, "expect");
    if (expect == nullptr) {
      diags.error(expect_ptr, "missing_field", "a case needs \"expect\" (what it checks)");
      ok = false;
    } else if (!expect->is_object()) {
      wrong_type(expect_ptr, "an object: component or component.port to what it should hold", *expect);
      ok = false;
    } else if (expect->get_object().empty()) {
      diags.error(expect_ptr, "invalid_value", "\"expect\" is empty: the case would check nothing");
      ok = false;
    } else {
      for (const auto& m : expect->get_object()) {
        auto e = expectation(std::string(m.key()), m.value(), pointer_append(expect_ptr, m.key()), mode);
        ok = ok && e.has_value();
        if (e) c.expect.push_back(std::move(*e));
      }
    }
    if (!ok) return std::nullopt;
    return c;
  }
};

void read_env(CasesSource& src) {
  const auto* o = src.json.value.if_object();
  if (o == nullptr) return;
  const auto* env = o->if_contains("env");
  if (env == nullptr) return;
  if (!env->is_object()) {
    src.diagnostics.error(
        "/env", "wrong_type",
        std::string("expected an object of names to text, got ") + sdk::detail::kind_name(*env));
    return;
  }
  for (const auto& m : env->get_object()) {
    if (!m.value().is_string()) {
      src.diagnostics.error(pointer_append("/env", m.key()), "wrong_type",
                            std::string("expected text, got ") + sdk::detail::kind_name(m.value()));
      continue;
    }
    src.env[std::string(m.key())] = std::string(m.value().get_string());
  }
}

}  // namespace

CasesSource read_cases_text(std::string_view text, const std::string& file) {
  CasesSource src;
  src.file = file;
  src.json = core::parse_json_source(text);
  src.diagnostics = src.json.diagnostics;
  if (src.json.ok) read_env(src);
  src.json.map.locate(src.diagnostics, file);
  return src;
}

CasesSource read_cases_file(const std::string& path) {
  std::string error;
  bool too_large = false;
  auto text = core::read_file(path, &error, max_cases_file_bytes, &too_large);
  if (!error.empty()) {
    CasesSource src;
    src.file = path;
    sdk::Diagnostic d;
    d.code = too_large ? "file_too_large" : "io_error";
    d.message = too_large ? error + " bytes" : error;
    d.file = path;
    src.diagnostics.add(std::move(d));
    return src;
  }
  return read_cases_text(text, path);
}

std::optional<Suite> parse_cases(const CasesSource& src, const flow::Flow& flow, sdk::Diagnostics& diags) {
  sdk::Diagnostics found;
  Parser p{flow, found};
  Suite suite;
  suite.file = src.file;
  const auto* root = src.json.value.if_object();
  if (root == nullptr) {
    p.wrong_type("", "an object with \"cases\"", src.json.value);
  } else {
    p.check_keys(*root, "", {"$schema", "description", "env", "cases"});
    const auto* cases = root->if_contains("cases");
    if (cases == nullptr) {
      found.error("/cases", "missing_field", "a cases file needs \"cases\" (an array)");
    } else if (!cases->is_array() || cases->get_array().empty()) {
      if (cases->is_array())
        found.error("/cases", "invalid_value", "\"cases\" is empty: nothing would be tested");
      else
        p.wrong_type("/cases", "an array of cases", *cases);
    } else {
      std::set<std::string> names;
      const auto& a = cases->get_array();
      for (std::size_t i = 0; i < a.size(); ++i)
        if (auto c = p.one_case(a[i], pointer_append("/cases", i), names))
          suite.cases.push_back(std::move(*c));
    }
  }
  src.json.map.locate(found, src.file);
  const bool bad = found.has_errors();
  diags.append(found);
  if (bad) return std::nullopt;
  return suite;
}

std::optional<Millis> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 't', ' ' and lower-case 'z' as RFC 3339
  // allows.
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > t.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!digits(0, 4, y) || t.size() < 20 || t[4] != '-' || !digits(5, 2, mo) || t[7] != '-' ||
      !digits(8, 2, d) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2, h) ||
      t[13] != ':' || !digits(14, 2, mi) || t[16] != ':' || !digits(17, 2, s))
    return std::nullopt;
  std::size_t pos = 19;
  Millis ms = 0;
  if (t[pos] == '.') {
    ++pos;
    const std::size_t first = pos;
    int scale = 100;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      ms += (t[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first) return std::nullopt;
  }
  if (pos >= t.size()) return std::nullopt;
  Millis offset_min = 0;
  if (t[pos] == 'Z' || t[pos] == 'z') {
    ++pos;
  } else if (t[pos] == '+' || t[pos] == '-') {
    int oh, om;
    if (!digits(pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' || !digits(pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return std::nullopt;
    offset_min = (t[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                         std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok()) return std::nullopt;
  const Millis days = std::chrono::sys_days(date).time_since_epoch().count();
  return ((days * 24 + h) * 60 + mi - offset_min) * 60'000 + Millis{s} * 1000 + ms;
}

}  // namespace weir::flowtest
