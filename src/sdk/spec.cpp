#include "sdk/spec.hpp"

#include "sdk/base/quote.hpp"
#include "sdk/base/suggest.hpp"

namespace weir::sdk {

namespace detail {

void unknown_field(Diagnostics& d, const std::string& pointer, std::string_view key,
                   const std::vector<std::string>& known) {
  auto near = closest(key, known);
  std::string hint;
  if (!near.empty()) {
    hint = "did you mean " + sdk::quote(near) + "?";
  } else if (!known.empty()) {
    hint = "known fields: ";
    for (std::size_t i = 0; i < known.size(); ++i) hint += (i ? ", " : "") + known[i];
  }
  d.error(pointer_append(pointer, key), "unknown_field", "unknown field " + sdk::quote(std::string(key)),
          std::move(hint));
}

void missing_field(Diagnostics& d, const std::string& pointer, std::string_view key) {
  d.error(pointer_append(pointer, key), "missing_field",
          "missing required field " + sdk::quote(std::string(key)));
}

}  // namespace detail

namespace {

void redact_into(boost::json::value& v, const std::vector<FieldInfo>& fields) {
  if (!v.is_object()) return;
  auto& obj = v.get_object();
  for (const auto& f : fields) {
    auto it = obj.find(f.name);
    if (it == obj.end()) continue;
    if (f.opts.secret_)
      it->value() = "***";
    else if (!f.fields.empty())
      redact_into(it->value(), f.fields);
  }
}

}  // namespace

boost::json::value ComponentInfo::redacted(const boost::json::value& config) const {
  boost::json::value out = config;
  redact_into(out, fields);
  return out;
}

std::size_t ComponentInfo::output_index(std::string_view port) const {
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].name == port) return i;
  return static_cast<std::size_t>(-1);
}

void ComponentInfo::bind_ports() {
  std::vector<std::string> ports;
  for (const auto& o : outputs) ports.push_back(o.name);
  create = [construct = construct, ports = std::move(ports)](const void* cfg, const Context& ctx) {
    Context with_ports = ctx;
    with_ports.outputs = ports;
    return construct(cfg, with_ports);
  };
}

ComponentInfo ComponentInfo::with_outputs(std::vector<PortInfo> extra) const {
  ComponentInfo out = *this;
  for (auto& p : extra) {
    if (out.output_index(p.name) != static_cast<std::size_t>(-1))
      throw std::logic_error("component " + type + " has a port " + p.name + " already");
    out.outputs.insert(out.outputs.end() - 1, std::move(p));
  }
  out.bind_ports();
  return out;
}

std::shared_ptr<const ComponentInfo> ComponentInfo::for_config(const void* config) const {
  if (!config_outputs || !config) return nullptr;
  return std::make_shared<const ComponentInfo>(with_outputs(config_outputs(config)));
}

}  // namespace weir::sdk
