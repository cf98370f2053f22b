// A loopback TCP port nothing listens on right now, for a server a test starts next. Taken
// below the kernel's ephemeral range (32768 and up on Linux), so that a port the kernel hands
// out meanwhile (a nats-server started with -p -1, any outgoing connection) cannot be the same
// one; a random start keeps tests in parallel processes apart.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <stdexcept>

namespace weir::testing {

inline std::uint16_t free_port() {
  constexpr std::uint16_t first = 20000, count = 12000;  // 20000..31999
  static thread_local std::mt19937 rng{std::random_device{}()};
  const auto start = static_cast<std::uint16_t>(rng() % count);
  for (std::uint16_t i = 0; i < count; ++i) {
    const auto port = static_cast<std::uint16_t>(first + (start + i) % count);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("no free port in 20000..31999");
}

}  // namespace weir::testing
