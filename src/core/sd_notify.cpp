#include "core/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "core/unique_fd.hpp"

namespace weir::core {

bool sd_notify(std::string_view state, std::string* error) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return true;
  const std::size_t len = std::strlen(path);
  sockaddr_un addr{};
  if (len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@')) {
    if (error) *error = std::string("NOTIFY_SOCKET is not a socket path: ") + path;
    return false;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    if (error) *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const ssize_t sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), addr_len);
  if (sent < 0 || static_cast<std::size_t>(sent) != state.size()) {
    if (error) *error = std::string("send to ") + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace weir::core
