#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "sdk/spec.hpp"

namespace weir::components::generate {

class CompiledTemplate;

// The `template` field: the JSON as written, and its placeholders compiled once at load, so the
// input thread only fills values in. The compiled form is immutable and shared by copies.
struct Template {
  boost::json::value source;
  std::shared_ptr<const CompiledTemplate> compiled;
};

// The template used when `template` is not set: sensor-like readings.
Template default_template();

struct Config {
  Template record_template = default_template();  // "template"
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::uint64_t count = 0;  // 0: unlimited
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::generate

namespace weir::sdk {

// Parsing `template` compiles it, so a bad placeholder is a diagnostic at the pointer of the
// string that holds it, like a bad expression.
template <>
struct Codec<components::generate::Template> {
  static bool parse(const boost::json::value& v, components::generate::Template& out, ParseCtx& c,
                    const FieldOpts& o);
  static boost::json::object schema(const FieldOpts&) { return {}; }
  static std::string type_name() { return "json"; }
  static boost::json::value to_json(const components::generate::Template& t) { return t.source; }
};

}  // namespace weir::sdk
