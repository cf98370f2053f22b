#pragma once

#include "common/websocket/bridge_config.hpp"
#include "sdk/spec.hpp"

namespace weir::components::websocket_input {

enum class Content { json, text };

struct Config : ws::LinkConfig {
  Content content = Content::json;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::websocket_input
