// What the udp_input and syslog_input tests share: an input running on a thread of its own into
// a sink that can hold pushes back (a full publish window), sockets to send with, and logger.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <thread>

#include "support/component_testing.hpp"
#include "support/nats_harness.hpp"  // wait_until

namespace weir::testing::syslog {

// A ThreadSafeSink whose push() and fail() wait while `closed` (as the engine's do while its
// publish window is full).
struct GatedSink : ThreadSafeSink {
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool closed = false;
  std::atomic<int> waiting{0};
  void close_gate() {
    std::lock_guard l(gate_mu);
    closed = true;
  }
  void open_gate() {
    {
      std::lock_guard l(gate_mu);
      closed = false;
    }
    gate_cv.notify_all();
  }
  void wait_gate() {
    std::unique_lock l(gate_mu);
    ++waiting;
    gate_cv.wait(l, [&] { return !closed || stop; });
    --waiting;
  }
  bool push(sdk::Record&& rec, std::function<void()> on_durable) override {
    wait_gate();
    return ThreadSafeSink::push(std::move(rec), std::move(on_durable));
  }
  bool fail(sdk::Record&& rec, std::string_view reason, std::function<void()> on_durable) override {
    wait_gate();
    return ThreadSafeSink::fail(std::move(rec), reason, std::move(on_durable));
  }
  std::size_t count() const {
    return locked([&] { return pushed.size() + failed.size(); });
  }
};

// An input started and run()ning until the end of the scope.
template <class Input>
struct Running {
  std::unique_ptr<Input> input;
  GatedSink sink;
  std::thread thread;
  Running(const std::string& type, const std::string& config) {
    auto p = parse_config(type, config);
    input = create<Input>(p);
    const auto st = input->start();
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    thread = std::thread([this] { input->run(sink); });
  }
  ~Running() {
    sink.stop = true;
    sink.open_gate();
    thread.join();
    input->stop();
  }
  bool wait_count(std::size_t n) {
    return wait_until([&] { return sink.count() >= n; }, std::chrono::seconds(20));
  }
};

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// A connected socket to 127.0.0.1:port (TCP) or one that sends there (UDP); closed with the object.
struct Socket {
  int fd = -1;
  Socket(int type, std::uint16_t port) {
    fd = ::socket(AF_INET, type, 0);
    REQUIRE(fd >= 0);
    const auto a = loopback(port);
    REQUIRE_MESSAGE(::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0,
                    "connect: " << errno);
  }
  ~Socket() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  void send(std::string_view data) const {
    while (!data.empty()) {
      const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      REQUIRE_MESSAGE(n > 0, "send: " << errno);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  std::string local() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
};

// Runs util-linux logger (bsdutils) to 127.0.0.1:port with `args`; fails the test when it is
// missing or fails.
inline void logger(std::uint16_t port, const std::string& args) {
  const auto cmd = "logger --server 127.0.0.1 --port " + std::to_string(port) + " " + args;
  const int rc = std::system(cmd.c_str());
  REQUIRE_MESSAGE(rc == 0, "`" << cmd << "` failed (" << rc << "): logger from bsdutils is needed");
}

inline std::string str(const boost::json::value& v, const char* key) {
  const auto* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string("<none>");
}

}  // namespace weir::testing::syslog
