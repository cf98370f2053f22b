#include "http/worker_pool.hpp"

#include <algorithm>

namespace weir::http::detail {

void WorkerPool::start(std::size_t threads) {
  std::lock_guard lock(mu_);
  if (stopped_ || !threads_.empty()) return;
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i)
    threads_.emplace_back([this] { run(); });
}

bool WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::stop() {
  std::deque<std::function<void()>> dropped;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    dropped.swap(jobs_);
    threads.swap(threads_);
  }
  cv_.notify_all();
  dropped.clear();
  for (auto& t : threads) t.join();
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
      if (stopped_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace weir::http::detail
