// Loopback helpers for the http tests: a server whose io_context runs on a thread, a raw TCP
// client that sends exactly the bytes a test wants, condition waits.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "http/server.hpp"

namespace weir::http::testing {

using namespace std::chrono_literals;

// The limit is a safety net against a hanging test, never a timing assertion.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

struct TestServer {
  explicit TestServer(ServerOptions options, Handler handler, UpgradeHandler upgrade = {})
      : server(io, on_port_0(std::move(options)), std::move(handler), std::move(upgrade)) {
    std::string error;
    REQUIRE_MESSAGE(server.start(&error), error);
    thread = std::thread([this] { io.run(); });
  }
  ~TestServer() {
    server.stop();
    work.reset();
    io.stop();
    thread.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server.port()); }
  unsigned short port() const { return server.port(); }

  static ServerOptions on_port_0(ServerOptions o) {
    o.listen = "127.0.0.1:0";
    return o;
  }

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  Server server;
  std::thread thread;
};

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking loopback TCP client. Reads give up after a safety limit so a broken server fails
// the test instead of hanging it.
class RawConn {
 public:
  explicit RawConn(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // False when the peer is gone (a server that refused and closed may reset the rest).
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads more into the pending bytes; false at the end of the stream (or the safety limit).
  bool read_more(std::chrono::milliseconds limit = 20s) {
    if (eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  // One response with a Content-Length body; status 0 when the connection ended first.
  Reply read_response() {
    Reply r;
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) return r;
    }
    const std::string head = pending_.substr(0, end);
    pending_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    REQUIRE(status_line.size() >= 12);
    r.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line =
          head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    const std::size_t length =
        r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (pending_.size() < length) {
      if (!read_more()) return Reply{};
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return r;
  }

  // True once the peer closed (end of stream or reset); what came before is kept in pending().
  bool wait_closed(std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!eof_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      read_more(left);
    }
    return true;
  }

  const std::string& pending() const { return pending_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string pending_;
};

inline Response text(std::string body) {
  return Response{200, "text/plain", std::move(body), {}};
}

}  // namespace weir::http::testing
