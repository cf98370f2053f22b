#pragma once

// A nats-server child process with JetStream (embedded mode and tests). The child dies with
// this process (PR_SET_PDEATHSIG) even when it is SIGKILLed, so no orphan keeps the store dir.
//
// Threading: every fork, signal and waitpid happens on one monitor thread per running server.
// PDEATHSIG fires when the *thread* that forked exits, so forking from a short-lived caller
// thread would kill the server behind our back; the monitor thread lives exactly as long as
// the child.

#include "bus/status.hpp"

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace weir::bus {

struct NatsServerOptions {
  std::string binary = "nats-server";  // a path, or a name looked up in PATH and sbin dirs
  std::string store_dir;               // required; JetStream data (2.9 does not lock it: one server per dir)
  std::string host = "127.0.0.1";
  int port = 0;           // 0: pick a free one (-p -1 + ports file); kept across restarts
  std::string log_file;   // default: <store_dir>/nats-server.log (appended)
  std::string ports_dir;  // default: store_dir
  std::vector<std::string> extra_args;
  std::chrono::milliseconds start_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(10)};  // SIGTERM, then SIGKILL
  // Restart the server (same port, same store) when it dies without stop() being called.
  bool supervise = false;
  std::chrono::milliseconds restart_backoff_min{std::chrono::milliseconds(100)};
  std::chrono::milliseconds restart_backoff_max{std::chrono::seconds(10)};
};

// Resolves a binary like execvp would, also trying /usr/local/sbin, /usr/sbin and /sbin
// (Debian installs nats-server to /usr/sbin, which is often not on a user's PATH).
std::optional<std::string> find_executable(const std::string& name);

class NatsServerProcess {
 public:
  explicit NatsServerProcess(NatsServerOptions options);
  ~NatsServerProcess();  // stop()
  NatsServerProcess(const NatsServerProcess&) = delete;
  NatsServerProcess& operator=(const NatsServerProcess&) = delete;

  // Starts the server and waits until it accepts TCP connections. On failure the error carries
  // the tail of the server log, and no process is left running.
  Status start();
  // SIGTERM, SIGKILL after stop_timeout, reap. Idempotent.
  Status stop();

  bool running() const;
  pid_t pid() const;  // 0 when not running
  int port() const;   // known after the first successful start
  std::string url() const;
  const std::string& log_file() const { return log_file_; }
  std::uint64_t restarts() const;
  // Blocks until the server accepts connections again (e.g. after a supervised restart).
  bool wait_ready(std::chrono::milliseconds timeout) const;
  std::string log_tail(std::size_t max_bytes = 4096) const;

 private:
  enum class Phase { idle, starting, running, exited };

  void monitor();
  pid_t spawn(std::string& error);
  bool accepting() const;
  std::optional<int> read_ports_file(pid_t pid) const;

  NatsServerOptions opt_;
  std::string binary_;
  std::string log_file_;
  std::string ports_dir_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::thread monitor_;
  Phase phase_ = Phase::idle;
  bool stopping_ = false;
  bool ever_ready_ = false;  // supervision restarts only a server that once came up
  pid_t pid_ = 0;
  int port_ = 0;
  bool ready_ = false;
  std::string exit_text_;
  std::uint64_t restarts_ = 0;
};

}  // namespace weir::bus
