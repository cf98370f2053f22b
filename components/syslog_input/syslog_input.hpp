#pragma once

#include "common/syslog/config.hpp"
#include "common/syslog/framing.hpp"
#include "sdk/field.hpp"
#include "sdk/spec.hpp"

namespace weir::components::syslog_input {

struct Config : syslog::ListenConfig {
  syslog::Framing framing = syslog::Framing::auto_detect;
  sdk::ByteSize max_message{64 * 1024};
  int max_connections = 256;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::syslog_input
