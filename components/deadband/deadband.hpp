#pragma once

#include <chrono>
#include <cstdint>

#include "common/keyed/key.hpp"
#include "sdk/spec.hpp"

namespace weir::components::deadband {

struct Config {
  keyed::KeyExprs key;  // none: one series for every record
  sdk::Expression value;
  double band = 0;          // 0: not used
  double band_percent = 0;  // 0: not used
  std::chrono::milliseconds heartbeat{0};
  bool heartbeat_emit = false;
  sdk::Expression time;  // none: processing time
  std::int64_t max_keys = 100'000;
  bool emit_dropped = false;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::deadband
