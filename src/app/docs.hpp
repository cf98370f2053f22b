// Everything generated from component specs for people and editors: `weir components` text,
// the README fields sections, and the flow file JSON Schema.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "registry/registry.hpp"

namespace weir::app {

std::string component_list(const registry::Registry& registry);
std::string component_text(const sdk::ComponentInfo& info);
boost::json::value component_json(const sdk::ComponentInfo& info);
// The "## Fields" table of a component README (between the generated markers).
std::string fields_markdown(const sdk::ComponentInfo& info);
// Replaces the text between the generated markers of a README; false when the markers are missing.
bool replace_generated(std::string& readme, const std::string& generated);

// JSON Schema (draft 2020-12) for flow files, every component's config keyed by its type.
boost::json::value flow_schema(const registry::Registry& registry);
// Pretty-printed JSON with a trailing newline, stable for checking in.
std::string pretty_json(const boost::json::value& v);

}  // namespace weir::app
