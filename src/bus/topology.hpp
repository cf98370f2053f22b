#pragma once

// Streams and durable consumers, created or updated idempotently at deploy. Every call is a
// JetStream API round trip: use them at deploy and for monitoring, never per message.

#include "bus/status.hpp"

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::bus {

enum class Retention { limits, interest, workqueue };
enum class Discard { old_messages, new_messages };

struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  Retention retention = Retention::interest;
  std::int64_t max_bytes = -1;          // <= 0: unlimited
  std::chrono::nanoseconds max_age{0};  // 0: unlimited
  std::int32_t max_msg_size = -1;       // <= 0: the server's max_payload
  Discard discard = Discard::new_messages;
  std::chrono::nanoseconds duplicate_window{0};  // 0: server default (2 min, capped by max_age)
  std::int64_t max_msgs_per_subject = -1;        // <= 0: unlimited; 1 makes a key-value store
  bool allow_direct = false;                     // direct gets (by subject) answered by the server
  // Storage is always file: every hop must survive a restart.
};

struct ConsumerSpec {
  std::string durable;
  std::string filter_subject;                                   // nats-server 2.9: exactly one
  std::chrono::nanoseconds ack_wait{std::chrono::seconds(30)};  // 0: server default (30 s)
  std::int64_t max_ack_pending = 1000;                          // 0: server default (1000)
  std::int64_t max_deliver = -1;                                // <= 0: unlimited
  // Where a new consumer starts: 0 from the first message, else from this stream sequence. Ack
  // policy (explicit) and the start are fixed at creation: an existing consumer keeps its own.
  std::uint64_t start_seq = 0;
};

enum class Ensured { created, updated, unchanged };
const char* to_string(Ensured e);

// Creates the stream, or updates it when its config differs from `spec`. A change the server
// refuses (retention, storage, a duplicate window above max_age) comes back as an error naming
// the stream and the server's reason. With `interest` retention a message that arrives while
// no consumer exists is dropped at once: ensure the consumers before anything publishes.
Result<Ensured> ensure_stream(jsCtx* js, const StreamSpec& spec);
Status delete_stream(jsCtx* js, const std::string& stream);

// Creates or updates a durable pull consumer (ack explicit, deliver all).
Result<Ensured> ensure_consumer(jsCtx* js, const std::string& stream, const ConsumerSpec& spec);
Status delete_consumer(jsCtx* js, const std::string& stream, const std::string& durable);
// Names of the stream's consumers.
Result<std::vector<std::string>> consumer_names(jsCtx* js, const std::string& stream);
// Purges messages below `below_seq` (0: all of them), of one subject or (empty) of the whole
// stream. nats-server 2.9 ignores `below_seq` when a subject is given and purges the whole
// subject: pass a subject only to drop all of it.
Status purge_stream(jsCtx* js, const std::string& stream, const std::string& subject,
                    std::uint64_t below_seq);

struct StreamState {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::int64_t consumers = 0;
  std::int64_t created_ns = 0;  // when the stream was created: sequences restart with a new stream
  std::chrono::nanoseconds duplicate_window{0};  // how long the stream remembers message ids
};
Result<StreamState> stream_info(jsCtx* js, const std::string& stream);

struct ConsumerState {
  std::uint64_t num_pending = 0;     // in the stream, not yet delivered
  std::int64_t num_ack_pending = 0;  // delivered, not yet acked
  std::int64_t num_redelivered = 0;
  std::int64_t num_waiting = 0;  // outstanding pull requests
  std::uint64_t delivered_stream_seq = 0;
  std::uint64_t ack_floor_stream_seq = 0;
};
Result<ConsumerState> consumer_info(jsCtx* js, const std::string& stream, const std::string& durable);

}  // namespace weir::bus
