// A scripted MQTT broker on a loopback socket, for broker behaviour a real mosquitto does not show
// on demand (packet ids reused, PUBLISH before SUBACK, MQTT 5 refusals and CONNACK properties, a
// session lost between PUBREC and PUBREL). Header-only: the MQTT component tests include it.
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <optional>

#include "common/mqtt/packet.hpp"

namespace weir::testing::fake_broker {

using weir::mqtt::Type;
using namespace std::chrono_literals;

// One TCP connection at a time on a loopback port; the test reads and writes packets by hand.
class FakeBroker {
 public:
  FakeBroker() {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(lfd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(lfd_, 4) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
  }
  ~FakeBroker() {
    drop();
    ::close(lfd_);
  }
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }

  bool accept(std::chrono::milliseconds timeout = 10s) {
    drop();
    pollfd p{lfd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    fd_ = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
    in_.clear();
    return fd_ >= 0;
  }
  // The link drops (the client sees the connection closed).
  void drop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& bytes) {
    std::size_t off = 0;
    while (fd_ >= 0 && off < bytes.size()) {
      const auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  // The next packet (PINGREQ skipped unless `pings`): fixed header byte and body; nullopt on a
  // timeout or a closed connection.
  std::optional<std::pair<std::uint8_t, std::string>> read(std::chrono::milliseconds timeout = 5s,
                                                           bool pings = false) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      weir::mqtt::Frame f;
      if (weir::mqtt::next_frame(in_, std::size_t(1) << 28, f) == weir::mqtt::FrameStatus::complete) {
        std::pair<std::uint8_t, std::string> out{f.header, std::string(f.body)};
        in_.erase(0, f.size);
        if (!pings && (out.first >> 4) == static_cast<int>(Type::pingreq)) continue;
        return out;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || fd_ < 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return std::nullopt;
      char buf[65536];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // The body of the next packet of type `t` (packets of other types before it are dropped).
  std::optional<std::string> expect(Type t, std::chrono::milliseconds timeout = 5s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      auto p = read(std::max(left, 1ms));
      if (!p) return std::nullopt;
      if ((p->first >> 4) == static_cast<int>(t)) return p->second;
    }
  }

 private:
  int lfd_ = -1, fd_ = -1, port_ = 0;
  std::string in_;
};

inline std::string u16(std::uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
}
inline std::uint16_t id_at(const std::string& body, std::size_t at = 0) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(body[at]) << 8 |
                                    static_cast<std::uint8_t>(body[at + 1]));
}
inline std::string packet(std::uint8_t header, const std::string& body) {
  std::string out(1, static_cast<char>(header));
  std::size_t n = body.size();
  do {
    auto b = static_cast<std::uint8_t>(n & 0x7F);
    n >>= 7;
    if (n) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n);
  return out + body;
}
// CONNACK; with v5 a properties block (`props` under 128 bytes).
inline std::string connack(bool session_present, bool v5 = false, const std::string& props = "") {
  std::string body{static_cast<char>(session_present ? 1 : 0), '\0'};
  if (v5) body += static_cast<char>(props.size()) + props;
  return packet(0x20, body);
}
inline std::string suback(std::uint16_t id, std::uint8_t code) {
  return packet(0x90, u16(id) + static_cast<char>(code));
}
// PUBACK, PUBREC, PUBREL, PUBCOMP; `reason` >= 0: an MQTT 5 reason code (and empty properties).
inline std::string ack(Type t, std::uint16_t id, int reason = -1) {
  std::string body = u16(id);
  if (reason >= 0) body += std::string{static_cast<char>(reason), '\0'};
  return packet(static_cast<std::uint8_t>(static_cast<int>(t) << 4 | (t == Type::pubrel ? 2 : 0)), body);
}
inline std::string publish(const std::string& topic, const std::string& payload, std::uint8_t qos,
                           std::uint16_t id, bool dup) {
  std::string out;
  weir::mqtt::encode(out, weir::mqtt::Publish{topic, payload, qos, false, dup, id},
                     weir::mqtt::Version::v311);
  return out;
}

struct Pub {
  std::uint16_t id = 0;
  bool dup = false;
  std::string topic, payload;
};
// A PUBLISH the client sent (QoS 1 or 2).
inline Pub parse_publish(std::uint8_t header, const std::string& body, bool v5) {
  Pub p;
  p.dup = header & 0x08;
  const std::size_t tl = id_at(body);
  p.topic = body.substr(2, tl);
  p.id = id_at(body, 2 + tl);
  std::size_t at = 4 + tl;
  if (v5) at += 1;  // empty properties
  p.payload = body.substr(at);
  return p;
}
inline std::optional<Pub> expect_publish(FakeBroker& b, bool v5 = false,
                                         std::chrono::milliseconds timeout = 5s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    auto p = b.read(std::max(left, 1ms));
    if (!p) return std::nullopt;
    if ((p->first >> 4) == static_cast<int>(Type::publish)) return parse_publish(p->first, p->second, v5);
  }
}

inline int thread_count() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/task");
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

}  // namespace weir::testing::fake_broker
