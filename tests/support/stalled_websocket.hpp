// A WebSocket client that upgrades and then never reads again, with a small receive buffer: what
// a frozen dashboard or a suspended laptop looks like to a server. For the tap tests and
// bench/ops_bench.
#pragma once

#include <cstdint>
#include <string>

namespace weir::testing {

// Connects to 127.0.0.1:port, sends the upgrade for `target` and reads only the 101 answer.
// Returns the socket (close it to end the client), or -1 with *error.
int open_stalled_websocket(std::uint16_t port, const std::string& target, std::string* error);

}  // namespace weir::testing
