#include "runtime/group_commit.hpp"

#include <spdlog/spdlog.h>

#include "runtime/flow_shared.hpp"

namespace weir::runtime {

using namespace std::chrono_literals;

GroupCommit::GroupCommit(std::unique_ptr<bus::StreamSync> sync, std::string prefix)
    : sync_(std::move(sync)), prefix_(std::move(prefix)) {
  thread_ = std::thread([this] {
    name_thread("sync:" + prefix_);
    run();
  });
}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  spdlog::info("{} acknowledgements on disk: {} fsync rounds for {} callbacks{}", prefix_, syncs_, callbacks_,
               failures_ ? " (" + std::to_string(failures_) + " rounds failed and were retried)" : "");
}

void GroupCommit::submit(std::vector<std::function<void()>>&& callbacks, std::uint64_t seq) {
  {
    std::lock_guard lock(mu_);
    for (auto& cb : callbacks) queue_.push_back(std::move(cb));
    wanted_ = true;
    ++submitted_;
    requested_seq_ = std::max(requested_seq_, seq);
  }
  cv_.notify_one();
}

bool GroupCommit::wait_synced(std::uint64_t seq, const std::function<bool()>& stopping) {
  std::unique_lock lock(mu_);
  if (synced_seq_ >= seq) return true;
  if (requested_seq_ < seq) {  // else a round that will cover it is waiting or running
    requested_seq_ = std::max(requested_seq_, seq);
    wanted_ = true;
    ++submitted_;
    cv_.notify_one();
  }
  while (synced_seq_ < seq) {
    if (stopping()) return false;
    done_cv_.wait_for(lock, 100ms);
  }
  return true;
}

std::uint64_t GroupCommit::synced_seq() const {
  std::lock_guard lock(mu_);
  return synced_seq_;
}

bool GroupCommit::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const auto ticket = submitted_;
  return done_cv_.wait_for(lock, timeout, [&] { return done_ >= ticket; });
}

std::uint64_t GroupCommit::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

std::uint64_t GroupCommit::sync_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

void GroupCommit::run() {
  std::unique_lock lock(mu_);
  auto backoff = 50ms;
  std::chrono::steady_clock::time_point last_log{};
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || wanted_; });
    if (!wanted_) break;  // stopping with nothing waiting
    auto batch = std::move(queue_);
    queue_.clear();
    wanted_ = false;
    const auto ticket = submitted_;
    const auto round_seq = requested_seq_;
    const bool last_try = stop_;
    lock.unlock();
    const auto st = sync_->sync();
    if (!st.ok()) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_log > 10s) {
        spdlog::error(
            "{} cannot sync the stream's files: {}; nothing more is acknowledged until a sync succeeds",
            prefix_, st.text());
        last_log = now;
      }
      lock.lock();
      ++failures_;
      // Stopping: what waits is dropped unacknowledged, and its source sends it again.
      if (last_try) break;
      // Back in front, in order; the same round again after a pause (at once when stopping).
      batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.end()));
      queue_ = std::move(batch);
      wanted_ = true;
      cv_.wait_for(lock, backoff, [&] { return stop_; });
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2s);
      continue;
    }
    backoff = 50ms;
    for (auto& cb : batch) cb();
    lock.lock();
    ++syncs_;
    callbacks_ += batch.size();
    done_ = ticket;
    synced_seq_ = std::max(synced_seq_, round_seq);
    done_cv_.notify_all();
  }
  done_ = submitted_;
  done_cv_.notify_all();
}

}  // namespace weir::runtime
