// The raw WebSocket baseline of the bridge: one ws::Endpoint listening and one connecting on
// 127.0.0.1, with no JetStream and no weir runtime in the path.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weir::bench {

struct WsResult {
  double msgs_per_s = 0;  // records counted at the receiver per second
  std::size_t frames = 0;
};

// Sends n 128-byte records (record(i)) from the client to the server, `batch` records per
// binary WebSocket message (1: one record per message; more: "<id> <json>\n" lines after a
// header line, as a bridge data frame). At most `window` messages are in flight: the sender
// reads the receiver's count directly, so this is the link without any ack round trip.
// Throws std::runtime_error when the endpoints do not connect or the records do not all arrive.
WsResult run_ws_baseline(std::uint64_t n, std::size_t batch, std::size_t window);

}  // namespace weir::bench
