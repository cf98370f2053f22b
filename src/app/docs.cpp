#include "app/docs.hpp"

#include <boost/json.hpp>

#include "flow/flow.hpp"
#include "sdk/base/json_write.hpp"

namespace weir::app {

namespace json = boost::json;

namespace {

const char* kind_text(sdk::Kind k) {
  switch (k) {
    case sdk::Kind::input:
      return "input";
    case sdk::Kind::processor:
      return "processor";
    case sdk::Kind::output:
      return "output";
  }
  return "";
}

std::string flags(const sdk::FieldInfo& f) {
  std::string out;
  auto add = [&](const char* s) { out += (out.empty() ? "" : ", ") + std::string(s); };
  if (f.opts.required_) add("required");
  if (f.opts.secret_) add("secret");
  if (f.opts.advanced_) add("advanced");
  if (!f.opts.deprecated_.empty()) add("deprecated");
  return out;
}

std::string range_text(const sdk::FieldInfo& f) {
  std::string out;
  auto num = [](double x) {
    return sdk::to_json(json::value(x == static_cast<long long>(x) ? json::value(static_cast<long long>(x))
                                                                   : json::value(x)));
  };
  if (f.opts.min_ && f.opts.max_)
    out = num(*f.opts.min_) + ".." + num(*f.opts.max_);
  else if (f.opts.min_)
    out = ">= " + num(*f.opts.min_);
  return out;
}

void field_text(std::string& out, const sdk::FieldInfo& f, const std::string& indent) {
  out += indent + f.name + " (" + f.type;
  if (auto fl = flags(f); !fl.empty()) out += ", " + fl;
  out += ")";
  if (!f.default_value.is_null()) out += " default " + sdk::to_json(f.default_value);
  if (auto r = range_text(f); !r.empty()) out += " range " + r;
  out += "\n";
  if (!f.opts.doc_.empty()) out += indent + "    " + f.opts.doc_ + "\n";
  for (const auto& o : f.opts.options_) out += indent + "    \"" + o.name + "\": " + o.doc + "\n";
  if (f.opts.example_) out += indent + "    example: " + sdk::to_json(*f.opts.example_) + "\n";
  for (const auto& sub : f.fields) field_text(out, sub, indent + "  ");
}

void field_rows(std::string& out, const sdk::FieldInfo& f, const std::string& prefix) {
  std::string doc = f.opts.doc_;
  for (const auto& o : f.opts.options_) doc += " `" + o.name + "`: " + o.doc;
  if (!f.opts.deprecated_.empty()) doc += " Deprecated: " + f.opts.deprecated_;
  std::string def = f.default_value.is_null() ? "" : "`" + sdk::to_json(f.default_value) + "`";
  if (auto r = range_text(f); !r.empty()) def += (def.empty() ? "" : ", ") + std::string("range ") + r;
  for (auto& c : doc)
    if (c == '|') c = '/';
  out += "| `" + prefix + f.name + "` | " + f.type + " | " + flags(f) + " | " + def + " | " + doc + " |\n";
  for (const auto& sub : f.fields) field_rows(out, sub, prefix + f.name + ".");
}

}  // namespace

std::string component_list(const registry::Registry& registry) {
  std::string out;
  for (const auto& info : registry.all()) {
    std::string name = info.type;
    name.resize(std::max<std::size_t>(name.size(), 18), ' ');
    std::string kind = kind_text(info.kind);
    kind.resize(10, ' ');
    out.append(name).append(" ").append(kind).append(" ").append(info.summary).append("\n");
  }
  return out;
}

namespace {

// The ports to document: the spec's, and before `error` a line for those a config names (a
// route's cases), under the name "<config>".
std::vector<sdk::PortInfo> documented_outputs(const sdk::ComponentInfo& info) {
  auto out = info.outputs;
  if (info.config_outputs) out.insert(out.end() - 1, {"<config>", info.config_outputs_doc});
  return out;
}

}  // namespace

std::string component_text(const sdk::ComponentInfo& info) {
  std::string out = info.type + " (" + kind_text(info.kind) + ")\n  " + info.summary + "\n";
  if (!info.description.empty()) out += "\n  " + info.description + "\n";
  out += "\nports:\n";
  for (const auto& p : info.inputs) out += "  in  " + p.name + ": " + p.doc + "\n";
  for (const auto& p : documented_outputs(info)) out += "  out " + p.name + ": " + p.doc + "\n";
  out += "\nconfig:\n";
  if (info.fields.empty()) out += "  (none)\n";
  for (const auto& f : info.fields) field_text(out, f, "  ");
  if (!info.example.is_null()) out += "\nexample:\n  " + sdk::to_json(info.example) + "\n";
  return out;
}

json::value component_json(const sdk::ComponentInfo& info) {
  json::object o;
  o["type"] = info.type;
  o["kind"] = kind_text(info.kind);
  o["summary"] = info.summary;
  o["description"] = info.description;
  o["stateless"] = info.stateless;
  json::array ins, outs;
  for (const auto& p : info.inputs) ins.push_back(json::object{{"name", p.name}, {"doc", p.doc}});
  for (const auto& p : documented_outputs(info))
    outs.push_back(json::object{{"name", p.name}, {"doc", p.doc}});
  o["inputs"] = ins;
  o["outputs"] = outs;
  o["config_schema"] = info.schema;
  o["example"] = info.example;
  return o;
}

std::string fields_markdown(const sdk::ComponentInfo& info) {
  std::string out = "| field | type | flags | default | description |\n|---|---|---|---|---|\n";
  for (const auto& f : info.fields) field_rows(out, f, "");
  out += "\nPorts: ";
  const auto outputs = documented_outputs(info);
  for (std::size_t i = 0; i < outputs.size(); ++i)
    out += (i ? ", " : "") + std::string("`") + outputs[i].name + "` (" + outputs[i].doc + ")";
  out += ".\n";
  return out;
}

bool replace_generated(std::string& readme, const std::string& generated) {
  static const std::string begin = "<!-- BEGIN GENERATED FIELDS -->\n";
  static const std::string end = "<!-- END GENERATED FIELDS -->";
  auto b = readme.find(begin);
  auto e = readme.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b) return false;
  readme.replace(b + begin.size(), e - b - begin.size(), generated);
  return true;
}

json::value flow_schema(const registry::Registry& registry) {
  json::array types, one_of;
  json::object defs;
  for (const auto& info : registry.all()) {
    types.push_back(json::string(info.type));
    // Exactly one branch matches: the one whose `type` const is the entry's type.
    json::object branch{
        {"properties",
         {{"type", {{"const", info.type}}}, {"config", {{"$ref", "#/$defs/config_" + info.type}}}}}};
    one_of.push_back(branch);
    auto schema = info.schema;
    schema["description"] = info.summary;
    defs["config_" + info.type] = schema;
  }
  json::object component{
      {"type", "object"},
      {"additionalProperties", false},
      {"required", json::array{"id", "type"}},
      {"properties",
       {{"id",
         {{"type", "string"},
          {"pattern", "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
          {"description", "Component id, unique in the flow."}}},
        {"type", {{"enum", types}, {"description", "Component type (see `weir components`)."}}},
        {"description", {{"type", "string"}}},
        {"inputs",
         {{"type", "array"},
          {"items", {{"type", "string"}}},
          {"description", "Upstream ports: \"id\" (its out port) or \"id.port\"."}}},
        {"config", {{"type", "object"}}}}},
      {"oneOf", one_of}};
  defs["component"] = component;
  auto settings = flow::Settings::object_spec().schema();
  json::object root{
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"$id", "https://weir.dev/schema/flow.schema.json"},
      {"title", "weir flow"},
      {"type", "object"},
      {"additionalProperties", false},
      {"required", json::array{"name", "components"}},
      {"properties",
       {{"$schema", {{"type", "string"}}},
        {"version", {{"const", 1}}},
        {"name", {{"type", "string"}, {"pattern", "^[a-z0-9][a-z0-9_-]{0,63}$"}}},
        {"description", {{"type", "string"}}},
        {"enabled", {{"type", "boolean"}, {"default", true}}},
        {"log_level",
         {{"enum", json::array{"engine", "trace", "debug", "info", "warn", "error", "off"}},
          {"default", "engine"}}},
        {"settings", settings},
        {"components", {{"type", "array"}, {"minItems", 1}, {"items", {{"$ref", "#/$defs/component"}}}}}}},
      {"$defs", defs}};
  return root;
}

namespace {
void pretty(std::string& out, const json::value& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  if (v.is_object() && !v.get_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& kv : v.get_object()) {
      if (!first) out += ",\n";
      first = false;
      out += pad + "  ";
      sdk::write_json_string(out, kv.key());
      out += ": ";
      pretty(out, kv.value(), indent + 1);
    }
    out += "\n" + pad + "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& x : v.get_array()) {
      if (!first) out += ",\n";
      first = false;
      out += pad + "  ";
      pretty(out, x, indent + 1);
    }
    out += "\n" + pad + "]";
  } else {
    sdk::write_json(out, v);
  }
}
}  // namespace

std::string pretty_json(const json::value& v) {
  std::string out;
  pretty(out, v, 0);
  out += "\n";
  return out;
}

}  // namespace weir::app
