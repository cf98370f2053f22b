#pragma once

#include <string>
#include <vector>

#include "sdk/spec.hpp"

namespace weir::components::route {

// One way out: records for which `when` is true go to `port`.
struct Case {
  std::string port;
  sdk::Expression when;
  static sdk::ObjectSpec<Case> object_spec();
};

enum class Mode { first, all };

struct Config {
  std::vector<Case> cases;  // required, in order
  std::string default_port = "default";
  Mode mode = Mode::first;
};

// The longest port name: it becomes a token of NATS subjects and a metric label.
inline constexpr std::size_t max_port_name = 64;

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::route
