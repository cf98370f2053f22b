// Loads flow files: JSON with positions, ${VAR} substitution, the document's own shape, each
// component's config through its spec, and the graph rules. Every problem is collected.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "flow/env_subst.hpp"
#include "flow/flow.hpp"
#include "registry/registry.hpp"
#include "sdk/diagnostic.hpp"

namespace weir::flow {

struct LoadResult {
  std::optional<Flow> flow;      // set only when there is no error
  sdk::Diagnostics diagnostics;  // positions filled in (file:line:col)
  std::string file;
};

LoadResult load_flow_text(std::string_view text, const std::string& file, const registry::Registry& registry,
                          const Getenv& getenv);
LoadResult load_flow_file(const std::filesystem::path& path, const registry::Registry& registry,
                          const Getenv& getenv);

// Every *.json in dir, sorted by name. Two files naming the same flow: the later one gets a
// `duplicate_flow` error. A bad file never hides the others.
std::vector<LoadResult> load_flow_dir(const std::filesystem::path& dir, const registry::Registry& registry,
                                      const Getenv& getenv);

// Checks inputs, ports, kinds and cycles of parsed components (part of loading; exposed for tests).
void check_graph(const Flow& flow, sdk::Diagnostics& diags);

// Checks the settings against each other (what JetStream refuses, what defeats its duplicate
// window) and each parsed component's config against them (its spec's flow_lint). Part of
// loading once the settings parsed cleanly; exposed for tests.
void check_settings(const Flow& flow, sdk::Diagnostics& diags);

}  // namespace weir::flow
