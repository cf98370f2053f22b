// The engine's NATS connection as a component sees it (Context::nats): core publishing, JetStream
// publishing through the engine's own publisher, durable and core reading. Components never hold
// nats.c handles; the engine implements this over its connection (runtime/component_nats.hpp),
// which reconnects on its own.
//
// Threading: any component thread may call Nats. A NatsPublisher, NatsConsumer or
// NatsSubscription is used by one thread at a time; the messages of a fetch may be acked from any
// thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sdk/log.hpp"
#include "sdk/record.hpp"

namespace weir::sdk {

// The failures a component handles apart from the rest.
enum class NatsErrc {
  ok,
  too_large,  // more than the server's max_payload or the stream's max_msg_size: it never fits
  not_found,  // no such stream or consumer
  failed,     // anything else; the text tells
};

// A Status that also tells which failure it is.
class NatsStatus : public Status {
 public:
  NatsStatus() = default;
  using Status::error;
  static NatsStatus ok() { return {}; }
  static NatsStatus error(NatsErrc code, std::string text) {
    return NatsStatus(Status::error(std::move(text)), code == NatsErrc::ok ? NatsErrc::failed : code);
  }
  NatsErrc code() const { return code_; }

 private:
  NatsStatus(Status status, NatsErrc code) : Status(std::move(status)), code_(code) {}
  NatsErrc code_ = NatsErrc::ok;
};

struct NatsHeader {
  std::string_view key;
  std::string_view value;
};

// A message to publish; the publish call copies what it needs.
struct NatsMsg {
  std::string_view subject;
  std::string_view data;
  std::span<const NatsHeader> headers{};
  // Nats-Msg-Id (empty: none): a stream stores a repeated id once within its duplicate window.
  std::string_view msg_id{};
};

struct NatsPublishFailure {
  std::string msg_id;
  std::string reason;
  bool too_large = false;  // the server or the stream refuses it for its size: it never fits
};

struct NatsPublisherOptions {
  int window = 4096;  // publishes awaiting their PubAck
  // How long publish() waits for room in a full window; then it and every further publish until
  // the next wait() fail at once (the server is likely gone).
  std::chrono::nanoseconds publish_timeout = std::chrono::seconds(5);
};

// Asynchronous JetStream publishing with a bounded window: the engine's own publisher. Its thread
// publishes, then waits; after wait() every message published since the previous wait is either
// stored by its stream (a repeated id counts as stored) or listed as a failure.
class NatsPublisher {
 public:
  // Takes back what is still outstanding: no PubAck is handled for it, nor after this returns.
  virtual ~NatsPublisher() = default;
  // Returns once the message is handed to the connection (buffered while it reconnects); blocks
  // while the window is full. A failure comes back here and is listed by the next wait() too.
  virtual NatsStatus publish(const NatsMsg& msg) = 0;
  // Waits up to `timeout` for every outstanding PubAck; what has none by then is taken back and
  // fails. Appends the failures since the previous wait to `failures` (failures it could not
  // record, out of memory, come as one entry without a msg id) and returns an error summarising
  // them; ok when every message was stored.
  virtual Status wait(std::chrono::nanoseconds timeout, std::vector<NatsPublishFailure>& failures) = 0;
};

// The messages one fetch took. Shared: an ack may run on any thread, after the fetch and after
// the reader is gone (this keeps alive what an ack needs). A message neither acked nor nak'ed by
// the time this goes is delivered again after the consumer's ack_wait.
class NatsFetched {
 public:
  virtual ~NatsFetched() = default;
  virtual std::size_t size() const = 0;
  virtual std::string_view data(std::size_t i) const = 0;
  // Where message i sits in its JetStream stream; an error for one without JetStream metadata.
  virtual NatsStatus position(std::size_t i, std::string& stream, std::uint64_t& seq) const = 0;
  // Fire-and-forget (one buffered publish each): a lost ack only means a redelivery. They do
  // nothing on the messages of a core subscription.
  virtual void ack(std::size_t i) = 0;
  virtual void nak(std::size_t i) = 0;
};

struct NatsConsumerSpec {
  std::string durable;
  std::string filter_subject;
  std::chrono::nanoseconds ack_wait = std::chrono::seconds(30);
  std::int64_t max_ack_pending = 1000;
};

// A durable pull consumer (ack explicit) on a stream. Dropping it leaves the consumer and its
// position on the server.
class NatsConsumer {
 public:
  virtual ~NatsConsumer() = default;
  // Waits up to `timeout` for up to `max` messages (returning early once some came and no more
  // wait), in stream order. `out` is set even on an error, and may hold messages then.
  // not_found: the consumer is gone (deleted by hand, or its stream made anew). After
  // await_redeliveries(), the redelivered messages come all together, sorted (the server hands
  // them out in no particular order): fetches return nothing until they are all in (bounded by
  // two ack_waits), and may then return more than `max`.
  virtual NatsStatus fetch(int max, std::chrono::nanoseconds timeout, std::shared_ptr<NatsFetched>& out) = 0;
  // After a crash or a broker restart, what was delivered and not acked comes again only after
  // ack_wait, while new messages would come at once: a reader that needs its messages in stream
  // order calls this before fetching. It waits, a bounded time, until pull requests an earlier
  // run left open at the server expired, then, when messages are unacknowledged, until they are
  // due again (they are then delivered first, and fetch() puts them in order). `sleep` waits up
  // to its argument and returns false to stop; so does this then.
  virtual bool await_redeliveries(const std::function<bool(std::chrono::nanoseconds)>& sleep,
                                  const Log& log) = 0;
};

// A core NATS subscription: at most once. Messages beyond its queue's limits are dropped.
class NatsSubscription {
 public:
  virtual ~NatsSubscription() = default;
  // Waits up to `timeout` for a first message, then takes what else is queued, up to `max`.
  virtual NatsStatus fetch(int max, std::chrono::nanoseconds timeout, std::shared_ptr<NatsFetched>& out) = 0;
  // Messages dropped because the queue was full, since the subscription started.
  virtual std::int64_t dropped() const = 0;
};

struct NatsStreamInfo {
  std::int64_t created_ns = 0;  // sequences start over in a stream made anew
  std::chrono::nanoseconds duplicate_window{0};
};

class Nats {
 public:
  virtual ~Nats() = default;

  // The server's max_payload (0 while not known).
  virtual std::int64_t max_payload() const = 0;
  // A core publish, at most once: buffered, and written by the connection soon (flush() waits
  // for it). too_large: more than max_payload.
  virtual NatsStatus publish(const NatsMsg& msg) = 0;
  // Returns once the server answered a ping sent after everything published before.
  virtual Status flush(std::chrono::nanoseconds timeout) = 0;

  // The name of the JetStream stream that captures `subject`; empty when none does, or when the
  // server runs without JetStream.
  virtual Status stream_for(std::string_view subject, std::string& stream) = 0;
  // not_found: no such stream.
  virtual NatsStatus stream_info(const std::string& stream, NatsStreamInfo& info) = 0;
  // How long after a crash or a broker restart a consumer's unacked messages are surely due
  // again: its ack_wait and the server's redelivery timer.
  virtual std::chrono::milliseconds redelivery_wait(std::chrono::nanoseconds ack_wait) const = 0;

  virtual NatsStatus publisher(const NatsPublisherOptions& options, std::unique_ptr<NatsPublisher>& out) = 0;
  // Creates the durable consumer on `stream`, or updates it to `spec`, and binds to it.
  virtual NatsStatus consumer(const std::string& stream, const NatsConsumerSpec& spec,
                              std::unique_ptr<NatsConsumer>& out) = 0;
  virtual NatsStatus subscribe(const std::string& subject, std::unique_ptr<NatsSubscription>& out) = 0;

  // How often the connection came back after losing the server (nats.c's own count, taken as it
  // reconnects): a reader that needs its messages in order awaits redeliveries when it grows.
  virtual std::uint64_t reconnects() const = 0;
};

}  // namespace weir::sdk
