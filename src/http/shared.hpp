// Internal: the state the server shares with its connections. Connections hold it by
// shared_ptr, so it outlives the Server while their last handlers drain on the io_context.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "http/server.hpp"
#include "http/worker_pool.hpp"

namespace weir::http::detail {

// One open connection as the server sees it.
class Session {
 public:
  virtual ~Session() = default;
  // Any thread: closes the connection on its own strand soon.
  virtual void shutdown() = 0;
};

struct Shared {
  Shared(ServerOptions o, Handler h, UpgradeHandler u)
      : options(std::move(o)), handler(std::move(h)), upgrade(std::move(u)) {}

  const ServerOptions options;
  const Handler handler;
  const UpgradeHandler upgrade;
  WorkerPool pool;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> busy_replies{0};    // 503 answers being written
  std::atomic<bool> at_limit{false};           // max_connections reached (logged once)
  std::atomic<std::uint64_t> tls_failures{0};  // TLS handshakes that failed

  void add(const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mu_);
    sessions_.emplace(s.get(), s);
  }
  void remove(const Session* s) {
    {
      std::lock_guard lock(mu_);
      sessions_.erase(s);
    }
    cv_.notify_all();
  }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
  }
  std::vector<std::shared_ptr<Session>> live() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Session>> out;
    for (const auto& [p, w] : sessions_) {
      if (auto s = w.lock()) out.push_back(std::move(s));
    }
    return out;
  }
  // True when every session was removed before `timeout`.
  bool wait_empty(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return sessions_.empty(); });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;
};

}  // namespace weir::http::detail
