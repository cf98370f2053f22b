#pragma once

// Asynchronous JetStream publishing with a bounded window. The owner (one thread) publishes a
// batch, then calls wait_all(): afterwards every message published since the previous wait is
// either acknowledged by the stream (a duplicate counts as stored) or listed as a failure that
// still holds the original message, so the caller can retry it or withhold its own input acks.

#include "bus/connection.hpp"
#include "bus/msg.hpp"
#include "bus/status.hpp"

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weir::bus {

struct PublisherOptions {
  // Outstanding (un-acked) publishes; publish() blocks while the window is full.
  int max_pending = 4096;
  // Per-message PubAck deadline (nats.c jsPubOptions.MaxWait); zero: none, and wait_all()'s
  // timeout settles what is still outstanding. Off by default because nats.c 3.4 keeps a timer
  // entry per message until its deadline even when the ack came long before: at 150k msgs/s a
  // 5 s deadline holds ~750k entries (~60 MB).
  std::chrono::milliseconds ack_timeout{0};
  // How long publish() may wait for room in a full window. When that passes, this message and
  // every further one until the next wait_all() fail at once (the server is likely gone).
  std::chrono::milliseconds publish_timeout{std::chrono::seconds(5)};
  // The stream whose highest acknowledged sequence last_acked_seq() reports (empty: none).
  std::string track_stream;
};

struct PublishFailure {
  std::string msg_id;  // empty when published without one
  std::string subject;
  // is_timeout(): no answer, the message may or may not be stored (a retry with the same msg id
  // is safe within the duplicate window); otherwise the server or the connection refused it.
  Status error;
  Msg message;  // the original message (payload + headers), ready for retry()
};

struct PubAck {
  std::string stream;
  std::uint64_t sequence = 0;
  bool duplicate = false;
};

struct PublisherStats {
  std::uint64_t published = 0;
  std::uint64_t acked = 0;  // includes duplicates
  std::uint64_t duplicates = 0;
  std::uint64_t failed = 0;
};

class AsyncPublisher {
 public:
  // Owns its own JetStream context, so that waiting covers only this publisher's messages.
  static Result<std::unique_ptr<AsyncPublisher>> create(const Connection& conn,
                                                        const PublisherOptions& options = {});
  // Outstanding messages that are not waited for are dropped (logged): call wait_all() first.
  ~AsyncPublisher();
  AsyncPublisher(const AsyncPublisher&) = delete;
  AsyncPublisher& operator=(const AsyncPublisher&) = delete;

  // Returns once the message is handed to the connection (buffered while reconnecting). An
  // error return means the message is already in the failure list; it is never lost silently.
  Status publish(const std::string& subject, std::string_view data, const std::string& msg_id = {},
                 std::span<const Header> headers = {});
  // Publishes a prepared message; its Nats-Msg-Id header, if any, is kept.
  Status publish(Msg msg);

  // Waits until every outstanding publish completed or `timeout` passed; what is still
  // outstanding then is taken back and reported failed too. Appends the failures since the
  // previous wait to `failures` and returns an error summarising them, ok when there were none.
  // Failures that could not be listed (out of memory) come as one entry without a message.
  Status wait_all(std::chrono::milliseconds timeout, std::vector<PublishFailure>& failures);

  // Republishes failed messages unchanged (same msg ids). Consumes `failures`.
  Status retry(std::vector<PublishFailure>& failures);

  // One publish and its PubAck round trip; for rare control messages, not for data.
  Result<PubAck> publish_sync(const std::string& subject, std::string_view data,
                              const std::string& msg_id = {}, std::span<const Header> headers = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(5));

  std::uint64_t outstanding() const;
  // The highest sequence a PubAck from options.track_stream named so far (0: none yet).
  std::uint64_t last_acked_seq() const { return last_acked_seq_.load(std::memory_order_acquire); }
  PublisherStats stats() const;

 private:
  AsyncPublisher(const PublisherOptions& options) : options_(options) {}
  static void on_ack(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  Status publish_owned(Msg msg, const char* msg_id);
  void record_failure(Msg msg, Status error);
  std::size_t take_back_outstanding(const char* reason);

  PublisherOptions options_;
  JetStream js_;
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> completed_{0};  // acked + failed after being outstanding
  std::atomic<std::uint64_t> acked_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> last_acked_seq_{0};
  std::atomic<std::uint64_t> lost_{0};  // failures not listed (out of memory) since the last wait
  bool window_stuck_ = false;           // owner thread only: a stall timed out since the last wait_all
  std::mutex mu_;                       // guards failures_: appended from nats.c's reply thread
  std::vector<PublishFailure> failures_;
};

}  // namespace weir::bus
