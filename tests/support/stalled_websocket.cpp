#include "support/stalled_websocket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::testing {

int open_stalled_websocket(std::uint16_t port, const std::string& target, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    ::close(fd);
    return -1;
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("connect failed");
  const std::string req = "GET " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) return fail("send failed");
  char buf[512];
  const auto n = ::recv(fd, buf, sizeof buf, 0);  // the 101 answer; nothing is read after it
  const std::string answer(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  if (answer.find(" 101 ") == std::string::npos) return fail("upgrade refused: " + answer);
  return fd;
}

}  // namespace weir::testing
