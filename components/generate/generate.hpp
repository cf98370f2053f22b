#pragma once

#include "sdk/spec.hpp"

namespace weir::components::generate {

struct Config {};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::generate
