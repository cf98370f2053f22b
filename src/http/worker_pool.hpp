// Internal: the threads handlers run on, so the io_context never waits for a handler.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weir::http::detail {

class WorkerPool {
 public:
  WorkerPool() = default;
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start(std::size_t threads);
  // False once stopped. A job must not throw.
  bool submit(std::function<void()> job);
  // Drops the queued jobs (destroyed on this thread), waits for the running ones. Idempotent.
  // Never from a worker.
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace weir::http::detail
