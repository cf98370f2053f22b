#include "bus/core_subscription.hpp"

#include <utility>

namespace weir::bus {

Result<CoreSubscription> CoreSubscription::subscribe(natsConnection* nc, const CoreSubscriptionOptions& o) {
  const std::string what = "subscribe " + o.subject;
  natsSubscription* sub = nullptr;
  natsStatus s = o.queue_group.empty()
                     ? natsConnection_SubscribeSync(&sub, nc, o.subject.c_str())
                     : natsConnection_QueueSubscribeSync(&sub, nc, o.subject.c_str(), o.queue_group.c_str());
  if (s != NATS_OK) return from_nats(s, what);
  CoreSubscription result(sub);
  s = natsSubscription_SetPendingLimits(sub, o.max_pending_msgs, o.max_pending_bytes);
  if (s != NATS_OK) return from_nats(s, what + ": pending limits");
  return result;
}

CoreSubscription::CoreSubscription(CoreSubscription&& o) noexcept : sub_(std::exchange(o.sub_, nullptr)) {}

CoreSubscription& CoreSubscription::operator=(CoreSubscription&& o) noexcept {
  if (this != &o) {
    natsSubscription_Destroy(sub_);
    sub_ = std::exchange(o.sub_, nullptr);
  }
  return *this;
}

CoreSubscription::~CoreSubscription() {
  natsSubscription_Destroy(sub_);
}

Status CoreSubscription::fetch(int max_msgs, std::chrono::milliseconds timeout, std::vector<Msg>& out) {
  if (sub_ == nullptr) return Status::error("fetch on an empty subscription");
  for (int i = 0; i < max_msgs; ++i) {
    natsMsg* m = nullptr;
    // The first wait may block; afterwards only take what is already queued (timeout 0).
    const natsStatus s = natsSubscription_NextMsg(&m, sub_, i == 0 ? timeout.count() : 0);
    if (s == NATS_TIMEOUT) return Status::success();
    // A slow-consumer report means messages were dropped; the rest of the queue is still good.
    if (s == NATS_SLOW_CONSUMER) continue;
    if (s != NATS_OK) return from_nats(s, "next message");
    out.emplace_back(m);
  }
  return Status::success();
}

std::int64_t CoreSubscription::dropped() const {
  std::int64_t n = 0;
  if (sub_ != nullptr) natsSubscription_GetDropped(sub_, &n);
  return n;
}

}  // namespace weir::bus
