#pragma once

#include <chrono>
#include <cstdint>

#include "common/keyed/key.hpp"
#include "sdk/spec.hpp"

namespace weir::components::throttle {

enum class Mode { drop, sample };

struct Config {
  keyed::KeyExprs key;  // none: one bucket for every record
  std::int64_t limit = 0;
  std::chrono::milliseconds interval{0};
  Mode mode = Mode::drop;
  std::int64_t sample_every = 10;
  bool emit_dropped = false;
  std::int64_t max_keys = 100'000;
  sdk::Expression time;  // none: processing time
  std::chrono::milliseconds lateness{0};
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::throttle
