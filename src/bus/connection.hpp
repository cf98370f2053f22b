#pragma once

// One NATS connection, reconnecting forever. nats.c runs its own threads (reader, flusher,
// async callbacks); everything here is safe to call from any thread.

#include "bus/msg.hpp"
#include "bus/status.hpp"

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace weir::bus {

struct ConnectOptions {
  std::string url = "nats://127.0.0.1:4222";  // one URL or a comma-separated list
  std::string user;
  std::string password;
  std::string token;
  std::string creds_file;  // NATS .creds file (user JWT + seed)
  std::string name = "weir";
  std::chrono::milliseconds reconnect_wait{250};
  std::chrono::milliseconds reconnect_jitter{100};
  // Publishes made while reconnecting are buffered up to this size, then fail.
  int reconnect_buffer_bytes = 64 * 1024 * 1024;
  // Each publish (a batch, an ack, a pull request) is written to the socket by the caller at
  // once. Without it nats.c's flusher thread waits 1 ms for more before every write: a
  // millisecond on each hop of a record at low rates (weir publishes batches, so the writes it
  // saves are few).
  bool send_asap = true;
  // The initial connect is retried until this deadline; zero means a single attempt.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
  // Timeout of JetStream API requests (stream/consumer management, sync publish).
  std::chrono::milliseconds api_timeout{std::chrono::seconds(5)};
  // The server's JetStream store folder as this host sees it; empty when unknown (store_sync.hpp).
  std::string store_dir;
};

enum class ConnState { connected, reconnecting, closed };
const char* to_string(ConnState s);

// RAII over jsCtx*. Create one per thread that publishes asynchronously: completion waits
// (js_PublishAsyncComplete) cover every message of the context.
class JetStream {
 public:
  JetStream() = default;
  explicit JetStream(jsCtx* js) : js_(js) {}
  JetStream(JetStream&& o) noexcept : js_(std::exchange(o.js_, nullptr)) {}
  JetStream& operator=(JetStream&& o) noexcept;
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;
  ~JetStream();

  jsCtx* raw() const { return js_; }
  explicit operator bool() const { return js_ != nullptr; }

 private:
  jsCtx* js_ = nullptr;
};

class Connection {
 public:
  // Blocks until connected, `options.connect_timeout` passes, or *stop becomes true.
  static Result<std::unique_ptr<Connection>> connect(const ConnectOptions& options,
                                                     const std::atomic<bool>* stop = nullptr);
  // Closes the connection. Everything created from it (JetStream contexts, subscriptions,
  // publishers, messages) must be destroyed first.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  natsConnection* raw() const { return nc_; }
  ConnState state() const;
  bool connected() const { return state() == ConnState::connected; }
  std::uint64_t reconnects() const;
  std::string connected_url() const;
  // ConnectOptions::store_dir: where the server keeps its streams' files, if known.
  const std::string& store_dir() const { return store_dir_; }

  // A fresh JetStream context. `opts` may carry PublishAsync settings; Wait defaults to
  // ConnectOptions::api_timeout.
  Result<JetStream> jetstream(const jsOptions* opts = nullptr) const;

  Status flush(std::chrono::milliseconds timeout) const;
  // A core publish (at most once): buffered, written by nats.c's flusher or the next flush().
  // NATS_MAX_PAYLOAD when it exceeds max_payload(). Takes the message's content, not the message.
  Status publish(const Msg& msg) const;
  // One request and its reply. NATS_NO_RESPONDERS when nobody listens on `subject`.
  Result<Msg> request(const std::string& subject, std::string_view data,
                      std::chrono::milliseconds timeout) const;
  // The server's max_payload (0 while never connected).
  std::int64_t max_payload() const;
  // nats.c's own count of reconnects (its statistics), taken as it reconnects; reconnects()
  // counts the reconnected events, which nats.c delivers later on its callback thread.
  std::uint64_t reconnects_now() const;

  struct Callbacks;  // shared with nats.c callback threads; outlives this object if needed

 private:
  Connection(natsConnection* nc, Callbacks* cb, std::chrono::milliseconds api_timeout)
      : nc_(nc), cb_(cb), api_timeout_(api_timeout) {}

  natsConnection* nc_ = nullptr;
  Callbacks* cb_ = nullptr;
  std::chrono::milliseconds api_timeout_;
  std::string store_dir_;
};

}  // namespace weir::bus
