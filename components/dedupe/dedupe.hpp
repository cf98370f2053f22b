#pragma once

#include <chrono>
#include <cstdint>

#include "common/keyed/key.hpp"
#include "sdk/spec.hpp"

namespace weir::components::dedupe {

struct Config {
  keyed::KeyExprs key;                  // none: the whole record
  std::chrono::milliseconds window{0};  // by time; or
  std::int64_t window_records = 0;      // by count
  sdk::Expression time;                 // none: processing time
  std::chrono::milliseconds lateness{0};
  std::int64_t max_keys = 100'000;
  bool emit_duplicates = false;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::dedupe
