#pragma once

#include "common/websocket/bridge_config.hpp"
#include "sdk/spec.hpp"

namespace weir::components::websocket_input {

enum class Content { json, text };
enum class Durability { sync, none };

struct Config : ws::LinkConfig {
  Content content = Content::json;
  Durability durability = Durability::sync;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::websocket_input
