#pragma once

#include "common/websocket/bridge_config.hpp"
#include "sdk/spec.hpp"

namespace weir::components::websocket_output {

struct Config : ws::LinkConfig {
  bool raw_only = false;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::websocket_output
