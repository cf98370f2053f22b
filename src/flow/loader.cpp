#include "flow/loader.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "core/hash.hpp"
#include "core/json_source.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/base/suggest.hpp"
#include "sdk/field.hpp"

namespace weir::flow {

namespace json = boost::json;

namespace {

struct FlowDoc {
  std::string schema;
  int version = 1;
  std::string name;
  std::string description;
  bool enabled = true;
  FlowLogLevel log_level = FlowLogLevel::engine;
  Settings settings;
  json::value components;

  static sdk::ObjectSpec<FlowDoc> object_spec() {
    using sdk::field;
    return sdk::ObjectSpec<FlowDoc>{}
        .field("$schema", &FlowDoc::schema, field().doc("Path or URL of the flow JSON Schema, for editors."))
        .field("version", &FlowDoc::version, field().doc("Flow file format version.").range(1, 1))
        .field("name", &FlowDoc::name, field().required().doc("Flow name: [a-z0-9][a-z0-9_-]{0,63}."))
        .field("description", &FlowDoc::description, field().doc("What the flow is for."))
        .field("enabled", &FlowDoc::enabled, field().doc("false keeps the flow loaded but not running."))
        .field("log_level", &FlowDoc::log_level,
               field()
                   .doc("Log level of this flow's lines (its components included); `engine` follows the "
                        "engine's log.level. Changing it redeploys nothing.")
                   .option("engine", FlowLogLevel::engine, "The engine's level.")
                   .option("trace", FlowLogLevel::trace, "Everything.")
                   .option("debug", FlowLogLevel::debug, "Details for debugging this flow.")
                   .option("info", FlowLogLevel::info, "Starts, stops, reloads, link changes.")
                   .option("warn", FlowLogLevel::warn, "Only problems.")
                   .option("error", FlowLogLevel::error, "Only failures.")
                   .option("off", FlowLogLevel::off, "Nothing."))
        .field("settings", &FlowDoc::settings, field().doc("Stream budget and delivery settings."))
        .field("components", &FlowDoc::components, field().required().doc("The components of the flow."));
  }
};

struct Entry {
  std::string id;
  std::string type;
  std::string description;
  std::vector<std::string> inputs;
  json::value config;

  static sdk::ObjectSpec<Entry> object_spec() {
    using sdk::field;
    return sdk::ObjectSpec<Entry>{}
        .field("id", &Entry::id, field().required().doc("Component id, unique in the flow."))
        .field("type", &Entry::type, field().required().doc("Component type."))
        .field("description", &Entry::description, field().doc("Free text."))
        .field("inputs", &Entry::inputs, field().doc("Upstream ports: \"id\" (its out port) or \"id.port\"."))
        .field("config", &Entry::config, field().doc("The component's configuration."));
  }
};

// [first][rest]{0,63}: flow names are lowercase (they become subject tokens and stream names);
// component ids may use capitals. Written out rather than with std::regex, which GCC 12 cannot
// compile warning-free under the sanitizers.
bool is_name(std::string_view s, bool allow_upper) {
  auto ok = [&](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (allow_upper && c >= 'A' && c <= 'Z') ||
           (!first && (c == '_' || c == '-'));
  };
  if (s.empty() || s.size() > 64 || !ok(s[0], true)) return false;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (!ok(s[i], false)) return false;
  return true;
}

void parse_components(const json::value& list, const registry::Registry& registry, Flow& flow,
                      sdk::Diagnostics& diags) {
  if (!list.is_array()) {
    // An object of components ({"gen": {...}}) or null must not validate as a flow of none.
    diags.error(
        "/components", "wrong_type", std::string("expected an array, got ") + sdk::detail::kind_name(list),
        list.is_object() ? "write the components as an array: [ { \"id\": \"gen\", \"type\": ... } ]" : "");
    return;
  }
  const auto& arr = list.get_array();
  if (arr.empty()) diags.error("/components", "invalid_value", "a flow needs at least one component");
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string ptr = sdk::pointer_append("/components", i);
    Entry e;
    Entry::object_spec().parse(arr[i], e, diags, ptr);
    if (!arr[i].is_object()) continue;
    ComponentDecl decl;
    decl.id = e.id;
    decl.type = e.type;
    decl.description = e.description;
    decl.pointer = ptr;
    if (!e.id.empty() && !is_name(e.id, true))
      diags.error(ptr + "/id", "invalid_id", "invalid component id " + sdk::quote(e.id),
                  "use letters, digits, _ and -, starting with a letter or digit, at most 64");
    for (const auto& other : flow.components)
      if (!e.id.empty() && other.id == e.id)
        diags.error(ptr + "/id", "duplicate_id", "component id " + sdk::quote(e.id) + " is used twice",
                    "first used at " + other.pointer);
    if (!e.type.empty()) {
      decl.info = registry.find(e.type);
      if (!decl.info) {
        auto near = sdk::closest(e.type, registry.types());
        diags.error(ptr + "/type", "unknown_type", "unknown component type " + sdk::quote(e.type),
                    near.empty() ? "see `weir components`" : "did you mean " + sdk::quote(near) + "?");
      }
    }
    const auto& obj = arr[i].get_object();
    auto cfg = obj.find("config");
    if (decl.info) {
      decl.config = decl.info->parse(cfg == obj.end() ? nullptr : &cfg->value(), diags, ptr + "/config");
      decl.raw_config = cfg == obj.end() ? json::value(json::object{}) : cfg->value();
      // Ports named in the config (a route's cases): this instance gets its own info listing them.
      decl.own_info = decl.info->for_config(decl.config.get());
      if (decl.own_info) decl.info = decl.own_info.get();
    }
    for (std::size_t j = 0; j < e.inputs.size(); ++j) {
      const auto& ref = e.inputs[j];
      auto dot = ref.find('.');
      InputRef r{dot == std::string::npos ? ref : ref.substr(0, dot),
                 dot == std::string::npos ? "out" : ref.substr(dot + 1),
                 sdk::pointer_append(ptr + "/inputs", j)};
      decl.inputs.push_back(std::move(r));
    }
    // The fingerprint lets a reload redeploy only what changed.
    std::string print = decl.type + '\n';
    sdk::write_json(print, decl.raw_config);
    for (const auto& r : decl.inputs) print += '\n' + r.component + '.' + r.port;
    decl.fingerprint = core::hex64(core::fnv1a64(print));
    flow.components.push_back(std::move(decl));
  }
}

constexpr const char* too_large_suffix = " bytes (1 MiB) for a flow file";

sdk::Diagnostic file_error(const std::string& file, std::string code, std::string message) {
  sdk::Diagnostic d;
  d.code = std::move(code);
  d.message = std::move(message);
  d.file = file;
  return d;
}

}  // namespace

LoadResult load_flow_text(std::string_view text, const std::string& file, const registry::Registry& registry,
                          const Getenv& getenv) {
  LoadResult out;
  out.file = file;
  if (text.size() > max_flow_file_bytes) {
    out.diagnostics.add(file_error(file, "file_too_large",
                                   std::to_string(text.size()) + " bytes, more than the limit of " +
                                       std::to_string(max_flow_file_bytes) + too_large_suffix));
    return out;
  }
  out.text.assign(text);
  auto parsed = core::parse_json_source(text);
  out.diagnostics.append(parsed.diagnostics);
  if (parsed.ok) {
    substitute_env(parsed.value, getenv, out.diagnostics);
    FlowDoc doc;
    FlowDoc::object_spec().parse(parsed.value, doc, out.diagnostics, "");
    Flow flow;
    flow.file = file;
    flow.name = doc.name;
    flow.description = doc.description;
    flow.enabled = doc.enabled;
    flow.log_level = doc.log_level;
    flow.settings = doc.settings;
    if (!doc.name.empty() && !is_name(doc.name, false))
      out.diagnostics.error("/name", "invalid_name", "invalid flow name " + sdk::quote(doc.name),
                            "use [a-z0-9][a-z0-9_-]{0,63}: lowercase letters, digits, _ and -");
    // Cross-checks of the settings only when each of them parsed (a bad one keeps its default).
    const bool settings_parsed =
        std::none_of(out.diagnostics.items().begin(), out.diagnostics.items().end(),
                     [](const sdk::Diagnostic& d) { return d.pointer.rfind("/settings", 0) == 0; });
    parse_components(doc.components, registry, flow, out.diagnostics);
    check_graph(flow, out.diagnostics);
    if (settings_parsed) check_settings(flow, out.diagnostics);
    if (!out.diagnostics.has_errors()) out.flow = std::move(flow);
  }
  for (auto& d : out.diagnostics.items()) {
    if (d.file.empty()) d.file = file;
    if (d.line != 0) continue;
    if (d.code == "unknown_field" || d.code == "duplicate_key") {
      auto pos = parsed.map.key_position(d.pointer);
      d.file = file;
      d.line = pos.line;
      d.column = pos.column;
    } else {
      parsed.map.locate(d, file);
    }
  }
  return out;
}

LoadResult load_flow_file(const std::filesystem::path& path, const registry::Registry& registry,
                          const Getenv& getenv) {
  std::string error;
  bool too_large = false;
  auto text = core::read_file(path, &error, max_flow_file_bytes, &too_large);
  if (!error.empty()) {
    LoadResult out;
    out.file = path.string();
    out.diagnostics.add(file_error(out.file, too_large ? "file_too_large" : "io_error",
                                   too_large ? error + too_large_suffix : error));
    return out;
  }
  return load_flow_text(text, path.string(), registry, getenv);
}

std::vector<LoadResult> load_flow_dir(const std::filesystem::path& dir, const registry::Registry& registry,
                                      const Getenv& getenv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  std::error_code ec;
  // Only the error_code overloads: every name in the folder comes from outside (a symlink loop
  // named x.json must not abort the engine at boot).
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    std::error_code type_ec;
    const auto type = it->status(type_ec).type();  // follows symlinks
    // A dangling symlink (an editor's lock file) is no flow; one that cannot be resolved (a loop,
    // no permission) is loaded, so that its error is reported with the file.
    if (type == fs::file_type::regular || (type_ec && type != fs::file_type::not_found))
      files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::vector<LoadResult> out;
  if (ec) {
    LoadResult r;
    r.file = dir.string();
    r.diagnostics.add(file_error(r.file, "io_error", "cannot read flows directory: " + ec.message()));
    out.push_back(std::move(r));
    return out;
  }
  for (const auto& f : files) {
    auto r = load_flow_file(f, registry, getenv);
    if (r.flow) {
      for (const auto& prev : out) {
        if (prev.flow && prev.flow->name == r.flow->name) {
          sdk::Diagnostic d;
          d.code = "duplicate_flow";
          d.pointer = "/name";
          d.message = "flow name " + sdk::quote(r.flow->name) + " is already used by " + prev.file;
          d.file = r.file;
          r.diagnostics.add(std::move(d));
          r.flow.reset();
          break;
        }
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace weir::flow
