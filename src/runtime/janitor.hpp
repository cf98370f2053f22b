// Retention done by weir: a flow's stream keeps messages (limits retention) and the janitor
// purges what every consumer has acknowledged: below the lowest ack floor of the consumers that
// still have work (one with nothing pending acknowledged all of its subject). JetStream's own interest
// retention would do this in the server, but nats-server 2.9 acknowledges and then drops messages that arrive
// while it shuts down (its consumers stop before the stream): a graceful broker restart lost acknowledged
// batches in our tests. A purge below an ack floor can never remove a message a consumer still needs. The
// janitor also writes each publisher's position checkpoint (positions.hpp) and never purges a publisher's
// data above its last stored checkpoint.
//
// In a flow whose inputs acknowledge only what is on disk (FlowShared::sync_gate), the janitor
// fsyncs the server's store before a purge (what was made of the purged messages stays) and
// after it, purges whole message blocks only and never the stream's last message (nats-server
// 2.9 rewrites files without an fsync to purge inside a block or to empty a stream).
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "runtime/flow_shared.hpp"

namespace weir::runtime {

class Janitor {
 public:
  Janitor(FlowShared& shared, std::chrono::milliseconds every);
  ~Janitor();
  void start();
  void stop();
  // One pass: purges below the lowest ack floor. Returns the messages purged.
  std::uint64_t sweep(jsCtx* js);

 private:
  void run();
  // With sync_gate: fsyncs every stream of the server's store (bus::StreamSync); false when it
  // cannot. True without.
  bool sync_store();
  // The highest first sequence of a message block of the stream that is at most `below` and at
  // most `last_seq` (0 when none or unknown): a purge up to it removes whole blocks only.
  std::uint64_t block_boundary(std::uint64_t below, std::uint64_t last_seq);

  FlowShared& shared_;
  std::chrono::milliseconds every_;
  std::vector<std::pair<std::string, std::string>> readers_;  // every consumer of the stream, its subject
  std::unique_ptr<bus::AsyncPublisher> pub_;                  // writes the publishers' checkpoints
  std::unique_ptr<bus::StreamSync> store_sync_;
  std::uint64_t purged_below_ = 0;
  std::uint64_t seen_reconnects_ = 0;
  std::chrono::steady_clock::time_point quiet_until_{};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace weir::runtime
