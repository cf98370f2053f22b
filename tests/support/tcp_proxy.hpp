#pragma once

// Test support: a fault-injecting TCP proxy on loopback. It sits between two peers (for example
// two engines bridged over WebSocket) and lets a test cut, take down, stall and delay the link.
//
// Threading: the proxy runs its own io thread; every method may be called from any thread.
// cut(), set_down() and set_stalled() take effect before they return. Asio stays out of this
// header so that tests including it build quickly.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace weir::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (listen_port 0 = a free port) and forwards each accepted connection to
  // target_host:target_port. target_host is resolved once, here; throws std::runtime_error when
  // it cannot be resolved or the port cannot be bound.
  TcpProxy(std::string target_host, std::uint16_t target_port, std::uint16_t listen_port = 0);
  ~TcpProxy();  // closes everything (abortively) and joins the io thread; never hangs
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const;

  // Upstream port for connections accepted from now on.
  void set_target(std::uint16_t target_port);

  // Closes every current connection pair, both sides, with an RST (SO_LINGER 0) so that the peers
  // see an error rather than a clean end of stream. New connections are still accepted.
  void cut();

  // While down: current pairs are cut, new connections are accepted and reset at once and nothing
  // connects upstream.
  void set_down(bool down);

  // While stalled: no byte is written in either direction; connections stay open and what is read
  // is buffered (up to 1 MiB per direction, then the kernel buffers fill) and flows again,
  // in order, once unstalled. Simulates a black-holed link.
  void set_stalled(bool stalled);

  // Each chunk is written d after it was read (order kept). Applies to chunks read from now on.
  void set_delay(std::chrono::milliseconds d);

  std::size_t accepted() const;           // connections accepted so far (including reset ones)
  std::size_t active() const;             // pairs connected upstream and not yet closed
  std::uint64_t bytes_forwarded() const;  // bytes written to either side

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::testing
