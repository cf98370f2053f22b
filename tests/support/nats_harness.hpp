#pragma once

// Test support: a real `nats-server -js` on a free port with a private store dir, temp dirs,
// and condition waits. A missing nats-server is a test failure (an exception), never a skip.

#include "bus/nats_server_process.hpp"

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace weir::testing {

// mkdtemp under $TMPDIR (or /tmp); removed recursively on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "weir-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls `pred` until it is true or `timeout` passes; returns the last result.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(10));

// $WEIR_NATS_SERVER, else nats-server from PATH (or /usr/sbin). Throws std::runtime_error
// "nats-server not found: apt install nats-server" when there is none.
std::string nats_server_binary();

class NatsServer {
 public:
  // Starts at once; throws std::runtime_error (with the server log tail) when it cannot. The
  // store is a fresh temp dir, or `store_dir` when given (created if missing; a power-cut test
  // puts it on a powercut_fs mount).
  explicit NatsServer(const std::string& store_dir = {});
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::string url() const;
  int port() const;
  const std::string& store_dir() const;
  pid_t pid() const;

  void stop();     // graceful (SIGTERM); the port and store stay reserved for start()
  void start();    // same port, same store
  void restart();  // stop() + start(): "the server restarted mid-stream"
  void kill9();    // SIGKILL, waits until it is reaped; start() brings it back

  bus::NatsServerProcess& process() { return *process_; }

 private:
  std::unique_ptr<TempDir> dir_;
  std::string store_dir_;
  std::unique_ptr<bus::NatsServerProcess> process_;
};

}  // namespace weir::testing
