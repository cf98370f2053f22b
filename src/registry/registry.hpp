// The component types the engine knows. Filled from an explicit list (components/meson.build
// generates register_builtins), never by static initializers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sdk/spec.hpp"

namespace weir::registry {

class Registry {
 public:
  template <class Config>
  void add(const sdk::ComponentSpec<Config>& spec) {
    add(spec.info());
  }
  void add(sdk::ComponentInfo info);

  const sdk::ComponentInfo* find(std::string_view type) const;
  std::vector<std::string> types() const;
  const std::vector<sdk::ComponentInfo>& all() const { return infos_; }

 private:
  std::vector<sdk::ComponentInfo> infos_;  // sorted by type
};

// Both generated from the built-in list in components/meson.build (library weir_builtins).
void register_builtins(Registry& registry);
const Registry& builtins();  // every built-in component, built once

}  // namespace weir::registry
