// One declaration per component: ComponentSpec<Config> gives parsing into the typed Config,
// defaults, every validation diagnostic with a JSON Pointer, the docs of `weir components`, and
// the JSON Schema. See STYLE.md for how a component declares itself.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "sdk/component.hpp"
#include "sdk/field.hpp"

namespace weir::sdk {

// Cross-field checks after every field parsed cleanly.
class Lint {
 public:
  Lint(Diagnostics& diags, std::string pointer) : diags_(diags), pointer_(std::move(pointer)) {}
  // `field` is a key of the object being checked ("" for the object itself).
  void error(std::string_view field, std::string code, std::string message, std::string hint = {}) {
    diags_.error(field.empty() ? pointer_ : pointer_append(pointer_, field), std::move(code),
                 std::move(message), std::move(hint));
  }
  void warning(std::string_view field, std::string code, std::string message, std::string hint = {}) {
    diags_.warning(field.empty() ? pointer_ : pointer_append(pointer_, field), std::move(code),
                   std::move(message), std::move(hint));
  }
  // The same checks one level down: at("cases").at(2).error("port", ...) reports at
  // <config>/cases/2/port.
  Lint at(std::string_view field) const { return Lint(diags_, pointer_append(pointer_, field)); }
  Lint at(std::size_t index) const { return Lint(diags_, pointer_append(pointer_, index)); }

 private:
  Diagnostics& diags_;
  std::string pointer_;
};

namespace detail {
void unknown_field(Diagnostics& d, const std::string& pointer, std::string_view key,
                   const std::vector<std::string>& known);
void missing_field(Diagnostics& d, const std::string& pointer, std::string_view key);
}  // namespace detail

template <class T>
class ObjectSpec {
 public:
  template <class M>
  ObjectSpec& field(const std::string& name, M T::*member, const FieldOpts& opts = {}) {
    Field f;
    f.name = name;
    f.opts = opts;
    f.parse = [member](const boost::json::value& v, T& out, ParseCtx& c, const FieldOpts& o) {
      return Codec<M>::parse(v, out.*member, c, o);
    };
    f.schema = [](const FieldOpts& o) { return Codec<M>::schema(o); };
    f.type = Codec<M>::type_name();
    f.to_json = [member](const T& x, const FieldOpts& o) { return codec_to_json(x.*member, o); };
    if constexpr (NestedObject<M>) f.nested = [] { return M::object_spec().describe(); };
    fields_.push_back(std::move(f));
    return *this;
  }

  ObjectSpec& lint(std::function<void(const T&, Lint&)> check) {
    lints_.push_back(std::move(check));
    return *this;
  }

  // Parses `v` into `out` (which holds the defaults). Collects every problem; true when clean.
  bool parse(const boost::json::value& v, T& out, Diagnostics& diags, const std::string& pointer) const {
    if (!v.is_object()) {
      ParseCtx c{diags, pointer};
      detail::wrong_type(c, "an object", v);
      return false;
    }
    const auto before = diags.items().size();
    const auto& obj = v.get_object();
    for (const auto& kv : obj) {
      if (!find(kv.key())) detail::unknown_field(diags, pointer, kv.key(), names());
    }
    for (const auto& f : fields_) {
      auto it = obj.find(f.name);
      if (it == obj.end()) {
        if (f.opts.required_) detail::missing_field(diags, pointer, f.name);
        continue;
      }
      ParseCtx c{diags, pointer_append(pointer, f.name)};
      f.parse(it->value(), out, c, f.opts);
    }
    bool clean = !has_error_since(diags, before);
    if (clean) {
      Lint l(diags, pointer);
      for (const auto& check : lints_) check(out, l);
      clean = !has_error_since(diags, before);
    }
    return clean;
  }

  boost::json::object schema() const {
    boost::json::object props;
    boost::json::array required;
    const T defaults{};
    for (const auto& f : fields_) {
      auto s = f.schema(f.opts);
      if (!f.opts.doc_.empty()) s["description"] = f.opts.doc_;
      if (!f.opts.required_) {
        auto d = f.to_json(defaults, f.opts);
        if (!is_empty_default(d)) s["default"] = d;
      } else {
        required.push_back(boost::json::string(f.name));
      }
      if (f.opts.example_) s["examples"] = boost::json::array{*f.opts.example_};
      if (!f.opts.deprecated_.empty()) s["deprecated"] = true;
      if (f.opts.secret_) s["writeOnly"] = true;
      props[f.name] = std::move(s);
    }
    boost::json::object out{{"type", "object"}, {"additionalProperties", false}};
    out["properties"] = std::move(props);
    if (!required.empty()) out["required"] = std::move(required);
    return out;
  }

  std::vector<FieldInfo> describe() const {
    std::vector<FieldInfo> out;
    const T defaults{};
    for (const auto& f : fields_) {
      FieldInfo info{f.name, f.type, f.opts, nullptr, {}};
      if (!f.opts.required_) {
        auto d = f.to_json(defaults, f.opts);
        if (!is_empty_default(d)) info.default_value = d;
      }
      if (f.nested) info.fields = f.nested();
      out.push_back(std::move(info));
    }
    return out;
  }

  boost::json::value to_json(const T& x) const {
    boost::json::object obj;
    for (const auto& f : fields_) obj[f.name] = f.to_json(x, f.opts);
    return obj;
  }

 private:
  struct Field {
    std::string name;
    std::string type;
    FieldOpts opts;
    std::function<bool(const boost::json::value&, T&, ParseCtx&, const FieldOpts&)> parse;
    std::function<boost::json::object(const FieldOpts&)> schema;
    std::function<boost::json::value(const T&, const FieldOpts&)> to_json;
    std::function<std::vector<FieldInfo>()> nested;
  };

  const Field* find(std::string_view name) const {
    for (const auto& f : fields_)
      if (f.name == name) return &f;
    return nullptr;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& f : fields_) out.push_back(f.name);
    return out;
  }
  static bool has_error_since(const Diagnostics& d, std::size_t before) {
    for (std::size_t i = before; i < d.items().size(); ++i)
      if (d.items()[i].severity == Severity::error) return true;
    return false;
  }
  static bool is_empty_default(const boost::json::value& d) {
    return d.is_null() || (d.is_string() && d.get_string().empty()) ||
           (d.is_array() && d.get_array().empty()) || (d.is_object() && d.get_object().empty());
  }

  std::vector<Field> fields_;
  std::vector<std::function<void(const T&, Lint&)>> lints_;
};

struct PortInfo {
  std::string name;
  std::string doc;
};

// The settings of the flow a component stands in that its flow lint may check against (the
// flow's own Settings live in a higher library).
struct FlowSettings {
  std::chrono::nanoseconds duplicate_window{0};  // how long the flow's stream remembers message ids
  std::chrono::nanoseconds ack_wait{0};          // redelivery delay of the flow's own consumers
};

// The type-erased spec the registry, the flow loader and the runtime work with.
struct ComponentInfo {
  std::string type;
  Kind kind = Kind::processor;
  std::string summary;
  std::string description;
  // Stateless processors may be fused into one stage and called from several threads.
  bool stateless = false;
  std::vector<PortInfo> inputs;
  std::vector<PortInfo> outputs;  // "error" is always the last one
  std::vector<FieldInfo> fields;
  boost::json::object schema;  // of the `config` object
  boost::json::value example;  // an example component entry for docs
  // Parses a `config` object (nullptr when the key is absent) into a Config.
  std::function<std::shared_ptr<const void>(const boost::json::value* config, Diagnostics& d,
                                            const std::string& pointer)>
      parse;
  // Creates the component, its Context's `outputs` set to the names of `outputs`.
  std::function<std::unique_ptr<Component>(const void* config, const Context& ctx)> create;
  // Creates it with the Context as given (what `create` wraps).
  std::function<std::unique_ptr<Component>(const void* config, const Context& ctx)> construct;
  // Output ports a component instance declares in its config (a route's cases; see
  // ComponentSpec::ports_from_config); empty when all its ports are in the spec. The flow loader
  // gives such an instance its own copy of this info: with_outputs() of these ports.
  std::function<std::vector<PortInfo>(const void* config)> config_outputs;
  std::string config_outputs_doc;  // for the docs: which ports the config names
  // A copy with `extra` ports inserted before `error` (after the spec's own), whose `create`
  // gives the component all of them. A name the info has already is a std::logic_error (the
  // component's config lint rejects it first).
  ComponentInfo with_outputs(std::vector<PortInfo> extra) const;
  // The info of the instance with this parsed config: with_outputs(config_outputs(config)), or
  // nullptr when the spec lists all its ports (the shared info is the instance's).
  std::shared_ptr<const ComponentInfo> for_config(const void* config) const;
  // Checks a parsed config against the flow's settings (see ComponentSpec::flow_lint); empty when
  // the component has no such check. The flow loader calls it once both parsed cleanly.
  std::function<void(const void* config, const FlowSettings& flow, Diagnostics& d,
                     const std::string& pointer)>
      flow_lint;
  // Secret fields' values are replaced before a config is logged or served.
  boost::json::value redacted(const boost::json::value& config) const;
  std::size_t output_index(std::string_view port) const;  // npos when unknown
  // Sets `create` to `construct` with the names of `outputs` in the Context: the component learns
  // its ports' names from here (Context::output), whoever creates it.
  void bind_ports();
};

template <class Config>
class ComponentSpec {
 public:
  // The kind is not declared: implementation<Impl>() takes it from the interface Impl derives
  // from, so a spec and its implementation cannot disagree.
  explicit ComponentSpec(std::string type) { info_.type = std::move(type); }

  ComponentSpec& summary(std::string text) {
    info_.summary = std::move(text);
    return *this;
  }
  ComponentSpec& description(std::string text) {
    info_.description = std::move(text);
    return *this;
  }
  ComponentSpec& stateless(bool on = true) {
    info_.stateless = on;
    return *this;
  }
  ComponentSpec& example(boost::json::value entry) {
    info_.example = std::move(entry);
    return *this;
  }

  template <class M>
  ComponentSpec& field(std::string name, M Config::*member, FieldOpts opts = {}) {
    object_.field(std::move(name), member, std::move(opts));
    return *this;
  }
  ComponentSpec& lint(std::function<void(const Config&, Lint&)> check) {
    object_.lint(std::move(check));
    return *this;
  }
  // A check of the config against the settings of the flow it stands in, reported at the
  // component's `config` (a nats_input's ack_wait against the flow's duplicate_window, say).
  ComponentSpec& flow_lint(std::function<void(const Config&, const FlowSettings&, Lint&)> check) {
    info_.flow_lint = [check = std::move(check)](const void* cfg, const FlowSettings& flow, Diagnostics& d,
                                                 const std::string& pointer) {
      Lint lint(d, pointer);
      check(*static_cast<const Config*>(cfg), flow, lint);
    };
    return *this;
  }
  ComponentSpec& output(std::string name, std::string doc) {
    info_.outputs.push_back({std::move(name), std::move(doc)});
    return *this;
  }
  // Output ports named in the config (a route's cases), inserted before `error` in this
  // instance's ports. Called on a config that parsed cleanly: the lint checks the names (unique,
  // not `error`, not one of the spec's ports, subject tokens).
  ComponentSpec& ports_from_config(std::string doc,
                                   std::function<std::vector<PortInfo>(const Config&)> ports) {
    info_.config_outputs_doc = std::move(doc);
    info_.config_outputs = [ports = std::move(ports)](const void* cfg) {
      return ports(*static_cast<const Config*>(cfg));
    };
    return *this;
  }

  // Impl is constructed from (const Config&, const Context&) and derives from exactly one of
  // Input, Processor, Output and BatchOutput, which makes the component's kind.
  template <class Impl>
  ComponentSpec& implementation() {
    static_assert(std::is_constructible_v<Impl, const Config&, const Context&>,
                  "an implementation is constructed from (const Config&, const Context&)");
    info_.kind = kind_of<Impl>();
    has_implementation_ = true;
    info_.construct = [](const void* cfg, const Context& ctx) -> std::unique_ptr<Component> {
      return std::make_unique<Impl>(*static_cast<const Config*>(cfg), ctx);
    };
    return *this;
  }

  const ObjectSpec<Config>& object() const { return object_; }

  // Everything the engine needs, without the Config type. A spec without implementation<>()
  // is a programming error (std::logic_error).
  ComponentInfo info() const {
    if (!has_implementation_)
      throw std::logic_error("component " + info_.type + " declares no implementation");
    ComponentInfo out = info_;
    if (out.kind != Kind::input) out.inputs.insert(out.inputs.begin(), {"in", "Records to handle."});
    out.outputs.push_back({"error", "Records that failed, with the reason."});
    out.bind_ports();
    out.fields = object_.describe();
    out.schema = object_.schema();
    auto object = std::make_shared<ObjectSpec<Config>>(object_);
    out.parse = [object](const boost::json::value* v, Diagnostics& d,
                         const std::string& pointer) -> std::shared_ptr<const void> {
      auto cfg = std::make_shared<Config>();
      static const boost::json::value empty = boost::json::object{};
      if (!object->parse(v ? *v : empty, *cfg, d, pointer)) return nullptr;
      return cfg;
    };
    return out;
  }

  template <class Impl>
  static constexpr Kind kind_of() {
    constexpr int interfaces = int{std::is_base_of_v<Input, Impl>} + int{std::is_base_of_v<Processor, Impl>} +
                               int{std::is_base_of_v<Output, Impl>} +
                               int{std::is_base_of_v<BatchOutput, Impl>};
    static_assert(interfaces == 1,
                  "an implementation derives from exactly one of sdk::Input, sdk::Processor, sdk::Output and "
                  "sdk::BatchOutput");
    if constexpr (std::is_base_of_v<Input, Impl>) return Kind::input;
    if constexpr (std::is_base_of_v<Processor, Impl>) return Kind::processor;
    return Kind::output;
  }

 private:
  ComponentInfo info_;
  ObjectSpec<Config> object_;
  bool has_implementation_ = false;
};

}  // namespace weir::sdk
