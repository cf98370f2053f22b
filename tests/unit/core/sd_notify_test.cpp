#include "core/sd_notify.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// A datagram socket bound where systemd would listen; `name` starting with '@' is abstract.
struct Listener {
  int fd = -1;
  std::string name;
  explicit Listener(std::string n) : name(std::move(n)) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Listener() {
    ::close(fd);
    if (name[0] == '/') ::unlink(name.c_str());
  }
  std::string receive() const {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
  }
};

}  // namespace

TEST_CASE("without NOTIFY_SOCKET nothing is sent and nothing fails") {
  ::unsetenv("NOTIFY_SOCKET");
  std::string error;
  CHECK(weir::core::sd_notify("READY=1", &error));
  CHECK(error.empty());
}

TEST_CASE("READY=1 reaches a socket path and an abstract socket") {
  const std::string path = "/tmp/weir_notify_" + std::to_string(::getpid());
  Listener at_path(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  CHECK(weir::core::sd_notify("READY=1\nSTATUS=1/1 flows up"));
  CHECK(at_path.receive() == "READY=1\nSTATUS=1/1 flows up");

  const std::string abstract = "@weir_notify_" + std::to_string(::getpid());
  Listener in_namespace(abstract);
  ::setenv("NOTIFY_SOCKET", abstract.c_str(), 1);
  CHECK(weir::core::sd_notify("STOPPING=1"));
  CHECK(in_namespace.receive() == "STOPPING=1");
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("a socket that is not there, or a bad value, is reported") {
  std::string error;
  ::setenv("NOTIFY_SOCKET", "/tmp/weir_notify_nobody_listens", 1);
  CHECK_FALSE(weir::core::sd_notify("READY=1", &error));
  CHECK(error.find("/tmp/weir_notify_nobody_listens") != std::string::npos);
  ::setenv("NOTIFY_SOCKET", "relative", 1);
  CHECK_FALSE(weir::core::sd_notify("READY=1", &error));
  ::unsetenv("NOTIFY_SOCKET");
}
