#pragma once

// A pull subscription bound to a durable consumer that already exists (ensure_consumer).
// Binding never creates and never deletes: nats.c deletes a durable on Unsubscribe/Drain only
// when its own js_PullSubscribe created it, which this class never lets it do.

#include "bus/msg.hpp"
#include "bus/status.hpp"

#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace weir::bus {

// How long after a crash (or a broker restart) a consumer's unacked messages are surely due for
// redelivery: ack_wait, a quarter more for the server's redelivery timer, and a second.
inline std::chrono::milliseconds redelivery_wait(std::chrono::nanoseconds ack_wait) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(ack_wait + ack_wait / 4) +
         std::chrono::seconds(1);
}

// How long a reader waits at its start for pull requests still open at the server (an earlier
// process's, killed: they expire within a fetch's timeout, 500 ms everywhere here) to be gone.
inline constexpr std::chrono::milliseconds pull_request_expiry_wait{2000};

// After a crash or a broker restart, a consumer's unacked messages come back only after its
// ack_wait, while new ones would be delivered at once: a reader that needs its messages in
// stream order calls this before it fetches. Pull requests of a process that was killed stay
// open at the server until they expire, and meanwhile take messages nobody acknowledges: so
// first it waits, at most pull_request_expiry_wait, until no request is waiting; then, when the
// consumer has unacked messages, it waits until they are due again (redelivery_wait), when they
// are delivered before anything new, but not in stream order (nats-server 2.9 was seen handing
// out the later half of a fetch round's redeliveries first): `unacked` is set to how many come
// back, which a reader that needs stream order gathers and sorts (InOrder below) before it
// takes any. `sleep` waits up to its argument and returns false to stop (this then returns
// false); `note` gets each line worth logging.
bool await_redeliveries(jsCtx* js, const std::string& stream, const std::string& durable,
                        std::chrono::nanoseconds ack_wait,
                        const std::function<bool(std::chrono::nanoseconds)>& sleep,
                        const std::function<void(const std::string&)>& note, std::int64_t& unacked);

// Puts fetched messages in stream order, holding them back after a redelivery wait until the
// `unacked` messages that come back first are all in (or `patience` passed), since those come
// in no particular order and a reader that tracks what it stored by a high-water mark per
// source would take a lower one that arrives after a higher one for a replay, and drop it.
class InOrder {
 public:
  // The wait said `unacked` messages come back first.
  void expect(std::int64_t unacked, std::chrono::steady_clock::duration patience);
  // Takes a fetch's messages; true when `ready` holds messages to handle now, in stream order.
  bool add(std::vector<Msg>& fetched, std::vector<Msg>& ready);
  // How many to ask the next fetch for, at least `batch`.
  int want(int batch) const;

 private:
  std::vector<Msg> held_;
  std::int64_t owed_ = 0;
  std::chrono::steady_clock::time_point until_{};
};

// Sorts messages by their stream sequence (those without metadata last, in their order).
void sort_by_stream_seq(std::vector<Msg>& msgs);

class PullConsumer {
 public:
  static Result<PullConsumer> bind(jsCtx* js, const std::string& stream, const std::string& durable);

  PullConsumer() = default;
  PullConsumer(PullConsumer&& o) noexcept;
  PullConsumer& operator=(PullConsumer&& o) noexcept;
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;
  // Destroys the subscription only; the durable consumer and its position stay on the server.
  // Messages fetched from it must be gone by then.
  ~PullConsumer();

  // Blocks up to `timeout` for up to `max_msgs` messages and appends them to `out`. It returns
  // early once some messages arrived and no more are waiting. No message is not an error.
  // Run it on a dedicated thread: it never returns before messages or the timeout.
  Status fetch(int max_msgs, std::chrono::milliseconds timeout, std::vector<Msg>& out);

  const std::string& stream() const { return stream_; }
  const std::string& durable() const { return durable_; }
  natsSubscription* raw() const { return sub_; }

 private:
  PullConsumer(natsSubscription* sub, std::string stream, std::string durable)
      : sub_(sub), stream_(std::move(stream)), durable_(std::move(durable)) {}

  natsSubscription* sub_ = nullptr;
  std::string stream_;
  std::string durable_;
};

}  // namespace weir::bus
