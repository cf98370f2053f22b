#pragma once

#include "common/syslog/config.hpp"
#include "sdk/field.hpp"
#include "sdk/spec.hpp"

namespace weir::components::udp_input {

struct Config : syslog::ListenConfig {
  sdk::ByteSize receive_buffer{4ull << 20};  // SO_RCVBUF
};

sdk::ComponentSpec<Config> spec();

// The kernel's drop count of the UDP socket with inode `inode` in /proc/net/udp (or udp6), or
// -1 when it is not there.
long long proc_udp_drops(unsigned long inode);

}  // namespace weir::components::udp_input
