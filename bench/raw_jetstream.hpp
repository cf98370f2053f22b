#pragma once

// The raw nats.c baseline of one durable JetStream hop, with no weir code in the path: what
// the bus layer and the runtime are measured against.

#include <cstddef>
#include <functional>
#include <string>

namespace weir::bench {

struct RawResult {
  double publish_msgs_per_s = 0;  // async publish with msg ids, until every PubAck arrived
  double fetch_msgs_per_s = 0;    // pull fetch (batches of 256) + ack of every message
  double one_hop_msgs_per_s = 0;  // n / (publish time + fetch time)
};

// Publishes n messages of payload_bytes into a fresh file-storage stream (interest retention,
// as the runtime uses), then fetches and acks all of them through a durable pull consumer.
// The stream is deleted afterwards. Throws std::runtime_error on any nats.c failure.
RawResult run_raw_jetstream(const std::string& url, std::size_t n, std::size_t payload_bytes);
// The same with payload(i) as the i-th message (made inside the timed loop, as a producer would).
RawResult run_raw_jetstream(const std::string& url, std::size_t n,
                            const std::function<std::string(std::size_t)>& payload);

}  // namespace weir::bench
