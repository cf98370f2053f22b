#pragma once

#include "sdk/spec.hpp"

namespace weir::components::log {

struct Config {};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::log
