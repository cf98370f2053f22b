#pragma once

#include "sdk/spec.hpp"

namespace weir::components::json_map {

struct Config {};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::json_map
