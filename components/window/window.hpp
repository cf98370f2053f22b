#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "sdk/spec.hpp"
#include "window/aggregate.hpp"

namespace weir::components::window {

enum class WindowKind { tumbling, hopping, session };

struct AggregateSpec {
  Fn fn = Fn::count;
  sdk::Expression of;  // required except for count
  double p = 0.5;      // percentile only

  static sdk::ObjectSpec<AggregateSpec> object_spec();
};

struct Config {
  WindowKind kind = WindowKind::tumbling;
  std::chrono::milliseconds size{0};          // tumbling, hopping
  std::chrono::milliseconds hop{0};           // hopping
  std::chrono::milliseconds gap{0};           // session
  std::chrono::milliseconds max_duration{0};  // session; 0: none
  std::map<std::string, sdk::Expression> group_by;
  std::map<std::string, AggregateSpec> aggregates;
  sdk::Expression time;  // empty: processing time
  std::chrono::milliseconds allowed_lateness{0};
  std::chrono::milliseconds idle_timeout{0};  // 0: the size (tumbling, hopping) or the gap (session)
  std::uint64_t max_keys = 100000;
  double accuracy = 0.01;
  std::uint32_t percentile_bins = 2048;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::window
