#pragma once

// A plain NATS (non-JetStream) subscription for external subjects (nats_input without a
// stream). Delivery is at-most-once: nats.c queues incoming messages up to the pending limits
// and drops beyond them (counted by dropped()), so a slow reader never grows memory unbounded.

#include "bus/msg.hpp"
#include "bus/status.hpp"

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::bus {

struct CoreSubscriptionOptions {
  std::string subject;
  std::string queue_group;  // empty: every subscriber gets every message
  int max_pending_msgs = 65536;
  int max_pending_bytes = 64 * 1024 * 1024;
};

class CoreSubscription {
 public:
  static Result<CoreSubscription> subscribe(natsConnection* nc, const CoreSubscriptionOptions& options);

  CoreSubscription() = default;
  CoreSubscription(CoreSubscription&& o) noexcept;
  CoreSubscription& operator=(CoreSubscription&& o) noexcept;
  CoreSubscription(const CoreSubscription&) = delete;
  CoreSubscription& operator=(const CoreSubscription&) = delete;
  ~CoreSubscription();

  // Waits up to `timeout` for a first message, then takes whatever else is already queued,
  // up to `max_msgs` in all. Appends to `out`; nothing within the timeout is not an error.
  Status fetch(int max_msgs, std::chrono::milliseconds timeout, std::vector<Msg>& out);

  // Messages dropped because the queue was full, since the subscription started.
  std::int64_t dropped() const;
  natsSubscription* raw() const { return sub_; }

 private:
  explicit CoreSubscription(natsSubscription* sub) : sub_(sub) {}
  natsSubscription* sub_ = nullptr;
};

}  // namespace weir::bus
