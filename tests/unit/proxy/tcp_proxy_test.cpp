// The fault-injecting proxy of tests/support against a loopback echo server (Asio, its own
// thread). The client side uses plain POSIX sockets so that waits can have deadlines.

#include "support/tcp_proxy.hpp"
#include "core/unique_fd.hpp"
#include "support/nats_harness.hpp"

#include <doctest/doctest.h>

#include <boost/asio.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using weir::testing::TcpProxy;
using weir::testing::wait_until;
using Clock = std::chrono::steady_clock;

// Echoes every byte back; on end of stream it shuts its sending side down after echoing.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)) {
    do_accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t accepted() const { return accepted_.load(); }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    explicit Session(tcp::socket s) : sock(std::move(s)), buf(64 * 1024) {}
    void do_read() {
      sock.async_read_some(asio::buffer(buf),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                             if (ec == asio::error::eof) {
                               self->sock.shutdown(tcp::socket::shutdown_send, ec);
                               return;
                             }
                             if (ec) return;
                             asio::async_write(self->sock, asio::buffer(self->buf.data(), n),
                                               [self](boost::system::error_code wec, std::size_t) {
                                                 if (!wec) self->do_read();
                                               });
                           });
    }
    tcp::socket sock;
    std::vector<char> buf;
  };

  void do_accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      accepted_.fetch_add(1);
      std::make_shared<Session>(std::move(s))->do_read();
      do_accept();
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<std::size_t> accepted_{0};
  std::thread thread_;
};

using Fd = weir::core::UniqueFd;

Fd connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return Fd(fd);
}

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, data, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    data += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

bool readable_within(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

// Reads until n bytes arrived, the stream ended, or the deadline passed; returns what arrived.
std::vector<char> recv_exact(int fd, std::size_t n, std::chrono::milliseconds timeout = 10s) {
  std::vector<char> out(n);
  std::size_t got = 0;
  const auto deadline = Clock::now() + timeout;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms || !readable_within(fd, left)) break;
    const ssize_t k = ::recv(fd, out.data() + got, n - got, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += static_cast<std::size_t>(k);
  }
  out.resize(got);
  return out;
}

// True when the peer ends the stream (EOF or reset) before the deadline; data is discarded.
bool closed_within(int fd, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms || !readable_within(fd, left)) return false;
    const ssize_t k = ::recv(fd, buf, sizeof buf, 0);
    if (k == 0) return true;
    if (k < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
}

std::vector<char> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<char> v(n);
  std::uint32_t x = seed | 1U;
  for (auto& c : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return v;
}

bool echo_ok(int fd, std::uint32_t seed = 7) {
  const auto msg = pattern(1000, seed);
  if (!send_all(fd, msg.data(), msg.size())) return false;
  return recv_exact(fd, msg.size()) == msg;
}

}  // namespace

TEST_CASE("10 MB pass through intact, both ways") {
  EchoServer echo;
  TcpProxy proxy("127.0.0.1", echo.port());
  CHECK(proxy.port() != 0);
  Fd c = connect_to(proxy.port());
  const auto data = pattern(10 * 1024 * 1024, 42);
  std::thread sender([&] { CHECK(send_all(c.get(), data.data(), data.size())); });
  const auto back = recv_exact(c.get(), data.size(), 30s);
  sender.join();
  CHECK(back.size() == data.size());
  CHECK(back == data);
  // The count is bumped when the write completes, which can be just after the bytes arrived.
  CHECK(wait_until([&] { return proxy.bytes_forwarded() == 2 * data.size(); }, 10s));
  CHECK(proxy.accepted() == 1);
  CHECK(proxy.active() == 1);
}

TEST_CASE("a half close is passed on after the data") {
  EchoServer echo;
  TcpProxy proxy("127.0.0.1", echo.port());
  Fd c = connect_to(proxy.port());
  const auto data = pattern(300 * 1024, 3);
  REQUIRE(send_all(c.get(), data.data(), data.size()));
  REQUIRE(::shutdown(c.get(), SHUT_WR) == 0);
  CHECK(recv_exact(c.get(), data.size()) == data);
  CHECK(closed_within(c.get()));
  CHECK(wait_until([&] { return proxy.active() == 0; }, 10s));
}

TEST_CASE("cut resets current connections and a reconnect works") {
  EchoServer echo;
  TcpProxy proxy("127.0.0.1", echo.port());
  Fd a = connect_to(proxy.port());
  REQUIRE(echo_ok(a.get()));
  REQUIRE(wait_until([&] { return proxy.active() == 1; }, 10s));
  proxy.cut();
  CHECK(closed_within(a.get()));
  CHECK(wait_until([&] { return proxy.active() == 0; }, 10s));
  Fd b = connect_to(proxy.port());
  CHECK(echo_ok(b.get()));
  CHECK(proxy.accepted() == 2);
  CHECK(echo.accepted() == 2);
}

TEST_CASE("set_down closes current and new connections; set_down(false) restores") {
  EchoServer echo;
  TcpProxy proxy("127.0.0.1", echo.port());
  Fd a = connect_to(proxy.port());
  REQUIRE(echo_ok(a.get()));
  proxy.set_down(true);
  CHECK(closed_within(a.get()));
  Fd b = connect_to(proxy.port());  // the listener stays up; the connection is reset at once
  CHECK(closed_within(b.get()));
  CHECK(wait_until([&] { return proxy.accepted() == 2; }, 10s));
  CHECK(proxy.active() == 0);
  CHECK(echo.accepted() == 1);
  proxy.set_down(false);
  Fd c = connect_to(proxy.port());
  CHECK(echo_ok(c.get()));
  CHECK(echo.accepted() == 2);
}

TEST_CASE("set_stalled holds data until unstalled, then it all arrives in order") {
  EchoServer echo;
  TcpProxy proxy("127.0.0.1", echo.port());
  Fd c = connect_to(proxy.port());
  REQUIRE(echo_ok(c.get()));
  proxy.set_stalled(true);
  const auto data = pattern(1024 * 1024, 11);
  std::thread sender([&] { CHECK(send_all(c.get(), data.data(), data.size())); });
  CHECK_FALSE(readable_within(c.get(), 300ms));
  CHECK(proxy.active() == 1);
  proxy.set_stalled(false);
  CHECK(recv_exact(c.get(), data.size()) == data);
  sender.join();
}

TEST_CASE("set_delay delays an echo round trip") {
  EchoServer echo;
  TcpProxy proxy("127.0.0.1", echo.port());
  Fd c = connect_to(proxy.port());
  REQUIRE(echo_ok(c.get()));
  proxy.set_delay(200ms);
  const auto t0 = Clock::now();
  CHECK(echo_ok(c.get(), 5));
  CHECK(Clock::now() - t0 >= 200ms);
  proxy.set_delay(0ms);
  CHECK(echo_ok(c.get(), 6));
}

TEST_CASE("set_target applies to later connections") {
  EchoServer first;
  EchoServer second;
  TcpProxy proxy("localhost", first.port());
  Fd a = connect_to(proxy.port());
  REQUIRE(echo_ok(a.get()));
  proxy.set_target(second.port());
  Fd b = connect_to(proxy.port());
  CHECK(echo_ok(b.get()));
  CHECK(echo_ok(a.get(), 9));
  CHECK(first.accepted() == 1);
  CHECK(second.accepted() == 1);
}

TEST_CASE("an unreachable target closes the client; destruction with open, stalled links") {
  std::uint16_t dead_port = 0;
  {
    EchoServer gone;
    dead_port = gone.port();
  }
  EchoServer echo;
  auto proxy = std::make_unique<TcpProxy>("127.0.0.1", dead_port);
  Fd a = connect_to(proxy->port());
  CHECK(closed_within(a.get()));
  proxy->set_target(echo.port());
  Fd b = connect_to(proxy->port());
  REQUIRE(echo_ok(b.get()));
  proxy->set_stalled(true);
  const auto data = pattern(64 * 1024, 1);
  REQUIRE(send_all(b.get(), data.data(), data.size()));
  proxy.reset();
  CHECK(closed_within(b.get()));
}
