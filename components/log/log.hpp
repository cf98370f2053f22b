#pragma once

#include "sdk/spec.hpp"

namespace weir::components::log {

enum class Level { trace, debug, info, warn, error };

struct Config {
  Level level = Level::info;
  sdk::ByteSize max_bytes{4096};  // 0: no cap
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::log
