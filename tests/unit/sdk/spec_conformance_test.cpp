// Spec conformance: every registered component, checked against its own spec, with nothing to
// add per component. For each one:
//   - the spec's example entry, and the example config with each field's example put in, load
//     clean through the flow loader;
//   - `{}` (and no config at all) gives missing_field at exactly the required fields;
//   - an unknown key gives unknown_field with a hint, a key one letter short of a field's name
//     the hint "did you mean" that field;
//   - each bounded field (numbers, durations, byte sizes; in lists and maps too) is accepted at
//     its bound and gives out_of_range just past it;
//   - an enum field given an option it does not have fails with every option listed.
// That an implementation matches its kind needs no test: ComponentSpec takes the kind from the
// interface the implementation derives from (a mismatch cannot be written).
// Each component's count of checks is printed.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "flow/loader.hpp"
#include "registry/registry.hpp"
#include "support/component_testing.hpp"

namespace json = boost::json;
using weir::sdk::ComponentInfo;
using weir::sdk::Diagnostics;
using weir::sdk::FieldInfo;

namespace {

const std::string config_pointer = "/components/0/config";

const weir::registry::Registry& registry() {
  return weir::registry::builtins();
}

json::object example_config(const ComponentInfo& info) {
  const auto* entry = info.example.if_object();
  if (entry == nullptr) return {};
  const auto* cfg = entry->if_contains("config");
  return cfg != nullptr && cfg->is_object() ? cfg->get_object() : json::object{};
}

// A component entry standing for an upstream the example reads: a generate for a plain id, a
// json_filter fed by a generate for a filter's named port.
void add_upstream(json::array& components, const std::string& ref, std::set<std::string>& added) {
  const auto dot = ref.find('.');
  const std::string id = ref.substr(0, dot);
  const std::string port = dot == std::string::npos ? "out" : ref.substr(dot + 1);
  if (!added.insert(id).second) return;
  json::object gen{{"type", "generate"}, {"config", example_config(*registry().find("generate"))}};
  if (port == "out") {
    gen["id"] = id;
    components.push_back(std::move(gen));
    return;
  }
  REQUIRE_MESSAGE((port == "rejected"), "the suite has no upstream with a port named " << port);
  gen["id"] = id + "_source";
  components.push_back(std::move(gen));
  components.push_back(json::object{{"id", id},
                                    {"type", "json_filter"},
                                    {"inputs", json::array{json::string(id + "_source")}},
                                    {"config", json::object{{"where", "true"}}}});
}

// Loads a flow made of the entry (with `config` when given) and the upstreams it reads.
weir::flow::LoadResult load_entry(const json::object& entry_in, const json::object* config) {
  json::object entry = entry_in;
  if (config != nullptr) entry["config"] = *config;
  json::array components;
  std::set<std::string> added{std::string(entry.at("id").as_string())};
  if (const auto* inputs = entry.if_contains("inputs"))
    for (const auto& ref : inputs->as_array()) add_upstream(components, std::string(ref.as_string()), added);
  components.push_back(std::move(entry));
  json::object flow{{"name", "conformance"}, {"components", std::move(components)}};
  // Examples may read the environment (a token as ${BRIDGE_TOKEN}): every variable is set.
  const weir::flow::Getenv env = [](const char*) -> const char* { return "conformance-value"; };
  return weir::flow::load_flow_text(json::serialize(flow), "conformance.json", registry(), env);
}

Diagnostics parse_config(const ComponentInfo& info, const json::value* config) {
  Diagnostics d;
  (void)info.parse(config, d, config_pointer);
  return d;
}

bool has_error(const Diagnostics& d, const std::string& code, const std::string& pointer) {
  for (const auto& i : d.items())
    if (i.severity == weir::sdk::Severity::error && i.code == code && i.pointer == pointer) return true;
  return false;
}

// `config` with `value` at `path` (keys from the config's root; objects made on the way).
json::object with_value(json::object config, const std::vector<std::string>& path, json::value value) {
  json::object* at = &config;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    auto& next = (*at)[path[i]];
    if (!next.is_object()) next = json::object{};
    at = &next.get_object();
  }
  (*at)[path.back()] = std::move(value);
  return config;
}

std::string pointer_of(const std::vector<std::string>& path) {
  std::string p = config_pointer;
  for (const auto& k : path) p += "/" + k;
  return p;
}

// A value of a bounded field's type at (past = false) or just past (past = true) one of its
// bounds; null when that bound says nothing (a type limit, or a duration of zero).
struct Bounded {
  std::string what;  // "min" or "max"
  json::value at, past;
};

std::vector<Bounded> bounds_of(const std::string& type, const weir::sdk::FieldOpts& o) {
  std::vector<Bounded> out;
  if (type == "int") {
    if (o.min_ && *o.min_ > -9e18) {
      const auto m = static_cast<std::int64_t>(*o.min_);
      out.push_back({"min", m, m - 1});
    }
    if (o.max_ && *o.max_ < 9e18) {
      const auto m = static_cast<std::int64_t>(*o.max_);
      out.push_back({"max", m, m + 1});
    }
  } else if (type == "float") {
    const double inf = std::numeric_limits<double>::infinity();
    if (o.min_ && std::isfinite(*o.min_) && *o.min_ > -9e18)
      out.push_back({"min", *o.min_, std::nextafter(*o.min_, -inf)});
    if (o.max_ && std::isfinite(*o.max_) && *o.max_ < 9e18)
      out.push_back({"max", *o.max_, std::nextafter(*o.max_, inf)});
  } else if (type == "duration") {
    auto ns = [](std::int64_t n) { return json::value(json::string(std::to_string(n) + "ns")); };
    if (o.min_duration_ && o.min_duration_->count() > 0)
      out.push_back({"min", ns(o.min_duration_->count()), ns(o.min_duration_->count() - 1)});
    if (o.max_duration_)
      out.push_back({"max", ns(o.max_duration_->count()), ns(o.max_duration_->count() + 1)});
  } else if (type == "byte size") {
    if (o.min_bytes_ && *o.min_bytes_ > 0) out.push_back({"min", *o.min_bytes_, *o.min_bytes_ - 1});
    if (o.max_bytes_) out.push_back({"max", *o.max_bytes_, *o.max_bytes_ + 1});
  }
  return out;
}

// Runs the checks of one component; returns how many ran.
class Suite {
 public:
  explicit Suite(const ComponentInfo& info) : info_(info), base_(example_config(info)) {}

  int run() {
    examples();
    empty_config();
    unknown_keys();
    walk(info_.fields, {});
    return checks_;
  }

 private:
  void examples() {
    REQUIRE_MESSAGE(info_.example.is_object(), info_.type << " declares no example entry");
    ++checks_;
    auto loaded = load_entry(info_.example.as_object(), nullptr);
    CHECK_MESSAGE(loaded.flow.has_value(), info_.type << ": its spec's example does not load clean:\n"
                                                      << weir::testing::dump(loaded.diagnostics));
  }

  void empty_config() {
    std::set<std::string> want;
    for (const auto& f : info_.fields)
      if (f.opts.required_) want.insert(config_pointer + "/" + f.name);
    const json::value empty = json::object{};
    for (const json::value* config : {&empty, static_cast<const json::value*>(nullptr)}) {
      ++checks_;
      auto d = parse_config(info_, config);
      // Besides those, only a check of the object as a whole may speak (json_map's "at least one
      // of set, rename, remove"), never one about a field that was not given.
      std::set<std::string> got;
      bool only_missing = true;
      for (const auto& i : d.items()) {
        if (i.severity != weir::sdk::Severity::error) continue;
        if (i.code == "missing_field")
          got.insert(i.pointer);
        else if (i.pointer != config_pointer)
          only_missing = false;
      }
      const std::string given = config != nullptr ? "{}" : "no config";
      CHECK_MESSAGE((got == want && only_missing), info_.type << ": " << given
                                                              << " must give missing_field at exactly the "
                                                              << want.size() << " required field(s); got:\n"
                                                              << weir::testing::dump(d));
    }
  }

  void unknown_keys() {
    ++checks_;
    auto config = json::value(with_value(base_, {"conformance_unknown_key"}, 1));
    auto d = parse_config(info_, &config);
    const auto pointer = config_pointer + "/conformance_unknown_key";
    bool hinted = false;
    for (const auto& i : d.items())
      if (i.code == "unknown_field" && i.pointer == pointer && !i.hint.empty()) hinted = true;
    CHECK_MESSAGE(hinted, info_.type << ": an unknown key must give unknown_field with a hint; got:\n"
                                     << weir::testing::dump(d));
    // A name one letter short of a field's: the hint names the field.
    for (const auto& f : info_.fields) {
      if (f.name.size() < 5 || base_.contains(f.name.substr(0, f.name.size() - 1))) continue;
      ++checks_;
      const auto typo = f.name.substr(0, f.name.size() - 1);
      auto typo_config = json::value(with_value(base_, {typo}, 1));
      auto td = parse_config(info_, &typo_config);
      bool named = false;
      for (const auto& i : td.items())
        if (i.code == "unknown_field" && i.pointer == config_pointer + "/" + typo &&
            i.hint.find('"' + f.name + '"') != std::string::npos)
          named = true;
      CHECK_MESSAGE(named, info_.type << ": key " << typo << " must give unknown_field with a hint naming "
                                      << f.name << "; got:\n"
                                      << weir::testing::dump(td));
    }
  }

  void walk(const std::vector<FieldInfo>& fields, const std::vector<std::string>& parent) {
    for (const auto& f : fields) {
      auto path = parent;
      path.push_back(f.name);
      // A nested object's fields are tried together below.
      if (f.opts.example_ && parent.empty()) example_loads(path, *f.opts.example_);
      bounded(f, path);
      if (!f.opts.options_.empty()) bad_option(f, path);
      if (!f.fields.empty()) {
        // The fields of a nested object go in together: their examples may belong together
        // (a client certificate and its key).
        json::object together;
        for (const auto& n : f.fields)
          if (n.opts.example_) together[n.name] = *n.opts.example_;
        if (!together.empty()) example_loads(path, together);
        walk(f.fields, path);
      }
    }
  }

  void example_loads(const std::vector<std::string>& path, const json::value& example) {
    ++checks_;
    const auto config = with_value(base_, path, example);
    auto loaded = load_entry(info_.example.as_object(), &config);
    CHECK_MESSAGE(loaded.flow.has_value(), info_.type << ": the example at " << pointer_of(path) << " ("
                                                      << json::serialize(example)
                                                      << ") does not load clean:\n"
                                                      << weir::testing::dump(loaded.diagnostics));
  }

  void bounded(const FieldInfo& f, std::vector<std::string> path) {
    std::string type = f.type;
    bool in_list = false, in_map = false;
    if (type.starts_with("list of ")) {
      type = type.substr(8);
      in_list = true;
    } else if (type.starts_with("map of ")) {
      type = type.substr(7);
      in_map = true;
    }
    for (auto& b : bounds_of(type, f.opts)) {
      auto wrap = [&](json::value v) -> json::value {
        if (in_list) return json::array{std::move(v)};
        if (in_map) return json::object{{"conformance", std::move(v)}};
        return v;
      };
      auto error_path = path;
      if (in_list) error_path.push_back("0");
      if (in_map) error_path.push_back("conformance");
      const auto pointer = pointer_of(error_path);
      checks_ += 2;
      auto at = json::value(with_value(base_, path, wrap(b.at)));
      auto d_at = parse_config(info_, &at);
      CHECK_MESSAGE(!has_error(d_at, "out_of_range", pointer),
                    info_.type << ": " << pointer << " at its " << b.what << " " << json::serialize(b.at)
                               << " must be accepted; got:\n"
                               << weir::testing::dump(d_at));
      auto past = json::value(with_value(base_, path, wrap(b.past)));
      auto d_past = parse_config(info_, &past);
      CHECK_MESSAGE(has_error(d_past, "out_of_range", pointer),
                    info_.type << ": " << pointer << " just past its " << b.what << " ("
                               << json::serialize(b.past) << ") must give out_of_range; got:\n"
                               << weir::testing::dump(d_past));
    }
  }

  void bad_option(const FieldInfo& f, const std::vector<std::string>& path) {
    ++checks_;
    auto config = json::value(with_value(base_, path, "conformance_no_such_option"));
    auto d = parse_config(info_, &config);
    const auto pointer = pointer_of(path);
    bool listed = false;
    for (const auto& i : d.items()) {
      if (i.code != "invalid_value" || i.pointer != pointer) continue;
      listed = true;
      for (const auto& o : f.opts.options_) listed = listed && i.message.find(o.name) != std::string::npos;
    }
    CHECK_MESSAGE(
        listed, info_.type << ": " << pointer
                           << " given an unknown option must give invalid_value listing every option; got:\n"
                           << weir::testing::dump(d));
  }

  const ComponentInfo& info_;
  json::object base_;
  int checks_ = 0;
};

}  // namespace

TEST_CASE("spec conformance: every registered component against its own spec") {
  REQUIRE(!registry().all().empty());
  int total = 0;
  for (const auto& info : registry().all()) {
    CAPTURE(info.type);
    const int n = Suite(info).run();
    total += n;
    std::printf("spec conformance: %-18s %3d checks\n", info.type.c_str(), n);
  }
  std::printf("spec conformance: %zu components, %d checks\n", registry().all().size(), total);
}

TEST_CASE("spec conformance: a spec's kind is its implementation's") {
  for (const auto& info : registry().all()) {
    CAPTURE(info.type);
    // Inputs read nothing; processors and outputs read `in`. Every kind has an error port last.
    CHECK(info.inputs.size() == (info.kind == weir::sdk::Kind::input ? 0u : 1u));
    REQUIRE(!info.outputs.empty());
    CHECK(info.outputs.back().name == "error");
    CHECK(static_cast<bool>(info.create));
  }
}
