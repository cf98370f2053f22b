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

// A flow file larger than this is refused before it is read or parsed. Real flows are a few KiB;
// the HTTP API takes bodies up to 1 MiB, so whatever the API writes can be read back from the file.
inline constexpr std::size_t max_flow_file_bytes = 1024 * 1024;

struct LoadResult {
  std::optional<Flow> flow;      // set only when there is no error
  sdk::Diagnostics diagnostics;  // positions filled in (file:line:col)
  std::string file;
  std::string text;  // what was loaded; empty when the file could not be read
};

LoadResult load_flow_text(std::string_view text, const std::string& file, const registry::Registry& registry,
                          const Getenv& getenv);
LoadResult load_flow_file(const std::filesystem::path& path, const registry::Registry& registry,
                          const Getenv& getenv);

// Every *.json in dir, sorted by name. Two files naming the same flow: the later one gets a
// `duplicate_flow` error. A bad file never hides the others: one that cannot be read (a symlink
// loop, no permission, too large) is a result with its diagnostic, never an exception.
std::vector<LoadResult> load_flow_dir(const std::filesystem::path& dir, const registry::Registry& registry,
                                      const Getenv& getenv);

// Checks inputs, ports, kinds and cycles of parsed components (part of loading; exposed for tests).
void check_graph(const Flow& flow, sdk::Diagnostics& diags);

// Checks the settings against each other (what JetStream refuses, what defeats its duplicate
// window) and each parsed component's config against them (its spec's flow_lint). Part of
// loading once the settings parsed cleanly; exposed for tests.
void check_settings(const Flow& flow, sdk::Diagnostics& diags);

}  // namespace weir::flow
