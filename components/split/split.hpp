#pragma once

#include <cstdint>

#include "sdk/field_path.hpp"
#include "sdk/spec.hpp"

namespace weir::components::split {

struct Config {
  sdk::FieldPath field;  // required: the array
  bool keep_parent = false;
  sdk::FieldPath as;           // empty: `field`
  sdk::FieldPath index_field;  // empty: no index written
  std::int64_t max_elements = 10000;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::split
