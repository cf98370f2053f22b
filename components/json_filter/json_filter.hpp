#pragma once

#include "sdk/spec.hpp"

namespace weir::components::json_filter {

struct Config {
  sdk::Expression where;  // required
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::json_filter
