// Placeholder until the component lands.
#include "json_map/json_map.hpp"

namespace weir::components::json_map {

sdk::ComponentSpec<Config> spec() { return sdk::ComponentSpec<Config>{"json_map", sdk::Kind::processor}; }

}  // namespace weir::components::json_map
