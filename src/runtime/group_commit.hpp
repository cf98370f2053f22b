// Group commit for acknowledgements that must be on disk: callbacks handed in wait for an fsync
// of the flow stream's files (bus::StreamSync) that began after they were handed in; one fsync
// serves every callback waiting when it starts, so the cost is per fsync, not per record. It runs
// on a thread of its own, so publishing goes on meanwhile.
//
// It also tells up to which stream sequence everything is on disk: nats-server writes a message
// when it assigns its sequence, under one lock, so once message S was stored (its PubAck came,
// or it was delivered) every message up to S is written, and a sync begun after that covers them
// all. Stages of a flow with synced inputs read nothing beyond that sequence (wait_synced), so
// that after a power cut the stream never comes back shorter than what a stage already handled.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/store_sync.hpp"

namespace weir::runtime {

class GroupCommit {
 public:
  GroupCommit(std::unique_ptr<bus::StreamSync> sync, std::string prefix);
  // Runs a last sync for what is waiting, then stops; logs how many syncs served how many
  // callbacks.
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // The callbacks run in order on the commit thread once a sync begun after this call
  // succeeded. A sync that fails is retried (logged) and nothing waiting runs meanwhile. An empty
  // list still asks for a sync (after a purge, say).
  // `seq`: a stream sequence already stored; synced_seq() reaches it once this round is done.
  void submit(std::vector<std::function<void()>>&& callbacks, std::uint64_t seq = 0);
  // Waits until every message up to stream sequence `seq` (one already stored) is on disk,
  // asking for a sync when needed. False when `stopping()` turned true first.
  bool wait_synced(std::uint64_t seq, const std::function<bool()>& stopping);
  std::uint64_t synced_seq() const;
  // Waits until everything submitted before this call ran; false when `timeout` passed first.
  bool drain(std::chrono::milliseconds timeout);

  std::uint64_t syncs() const;          // fsync rounds done
  std::uint64_t sync_failures() const;  // rounds that failed (and were retried)

 private:
  void run();

  std::unique_ptr<bus::StreamSync> sync_;
  std::string prefix_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work or stop
  std::condition_variable done_cv_;  // a round finished
  std::vector<std::function<void()>> queue_;
  bool wanted_ = false;
  bool stop_ = false;
  std::uint64_t submitted_ = 0;  // tickets handed out
  std::uint64_t done_ = 0;       // tickets whose callbacks ran
  std::uint64_t syncs_ = 0;
  std::uint64_t callbacks_ = 0;  // run after a sync
  std::uint64_t failures_ = 0;
  std::uint64_t requested_seq_ = 0;  // highest sequence asked for
  std::uint64_t synced_seq_ = 0;     // everything up to it is on disk
  std::thread thread_;
};

}  // namespace weir::runtime
