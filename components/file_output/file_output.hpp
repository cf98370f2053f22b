#pragma once

#include "sdk/spec.hpp"

namespace weir::components::file_output {

struct Config {};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::file_output
