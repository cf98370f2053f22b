#pragma once

#include "sdk/spec.hpp"

namespace weir::components::nats_output {

struct Config {};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::nats_output
