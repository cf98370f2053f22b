// A WebSocket endpoint for the bridge components: one server (mode listen) or one client that
// keeps redialing (mode connect), plain or TLS, on an io thread of its own.
//
// websocketpp stays behind this header: it does not compile as C++20 with GCC 12, so the code
// that uses it is a C++17 library, and this header must stay plain C++17 without heavy includes.
//
// Threading: every handler runs on the endpoint's io thread. Every method may be called from any
// thread (work is posted to the io thread), except start() and stop().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sdk/log.hpp"

namespace weir::ws {

inline constexpr const char* bridge_subprotocol = "weir.bridge.v1";

struct TlsOptions {
  std::string cert;  // PEM file: the server's certificate (listen) or the client's (connect, optional)
  std::string key;   // PEM file: its private key
  std::string ca;    // PEM file: listen: client certificates must chain to it (mutual TLS);
                     // connect: the server's certificate must chain to it (else the system's CAs)
};

struct EndpointOptions {
  enum class Mode { listen, connect };
  Mode mode = Mode::listen;
  std::string listen = "0.0.0.0:8765";  // listen: host:port (port 0: any free port, see port())
  std::string path = "/";               // listen: the resource served; other paths get HTTP 404
  std::string url;                      // connect: ws://host:port/path or wss://host:port/path
  // listen: when not empty, the upgrade needs `Authorization: Bearer <token>` (else HTTP 401).
  // connect: sent in that header when not empty.
  std::string token;
  // connect: offer weir.bridge.v1. False makes this endpoint a raw client (tests, tools).
  bool offer_bridge = true;
  bool tls = false;  // listen: serve wss (needs tls.cert and tls.key); connect: from the url scheme
  TlsOptions tls_files;
  std::size_t max_frame_size = 1024 * 1024;  // larger incoming messages close with 1009
  std::size_t max_clients = 16;              // listen: more concurrent connections get HTTP 503
  // Liveness: a WebSocket ping is sent on a connection idle for `heartbeat`; a connection that
  // received nothing (no message, no pong) for 3 x heartbeat is closed (code 1001, "heartbeat").
  std::chrono::milliseconds heartbeat{5000};
  // connect: the wait before redialing grows from reconnect_min, x2 per failure, up to
  // reconnect_max, with +-20% jitter; it starts over once a connection stayed up 5 s.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{30000};
  std::chrono::milliseconds open_timeout{5000};  // TCP + TLS + upgrade
  sdk::Log log;                                  // lines carrying the flow and the component
  std::string thread_name;                       // of the io thread (top -H, ps -L); 15 chars at most
};

using ConnId = std::uint64_t;

struct Handlers {
  // A connection is open. `bridge`: it speaks weir.bridge.v1 (a raw client otherwise; connect
  // mode always offers the subprotocol and `bridge` tells whether the server accepted it).
  std::function<void(ConnId, bool bridge, const std::string& peer)> on_open;
  // A complete message; `binary` tells a binary frame from a text frame.
  std::function<void(ConnId, std::string&& payload, bool binary)> on_message;
  // An open connection closed (either side, heartbeat, error). Not called for failed attempts.
  std::function<void(ConnId, int code, const std::string& reason)> on_close;
  // connect: an attempt failed (refused, TLS, HTTP 401...) before opening; a redial follows.
  std::function<void(const std::string& reason)> on_connect_failed;
  // listen: an upgrade was refused (wrong token, bad path, too many clients, TLS failure).
  std::function<void(const std::string& peer, int http_status, const std::string& reason)> on_rejected;
};

class Endpoint {
 public:
  // Checks the options (url, listen address, TLS files readable) without opening anything.
  static std::unique_ptr<Endpoint> create(EndpointOptions options, Handlers handlers, std::string& error);
  virtual ~Endpoint() = default;

  // listen: binds and accepts; connect: starts dialing. Starts the io thread. False on failure
  // (address in use, bad TLS files) with `error` set.
  virtual bool start(std::string& error) = 0;
  // Closes every connection (1001 "going away"), stops dialing, joins the io thread. Idempotent.
  virtual void stop() = 0;

  // Queues a message; dropped silently when the connection is gone (on_close tells).
  virtual void send(ConnId conn, std::string payload, bool binary) = 0;
  // As send(), on the io thread itself (in a handler or a function given to post()): the message
  // is framed at once, with no copy of it queued behind the io thread's other work.
  virtual void send_here(ConnId conn, std::string_view payload, bool binary) = 0;
  virtual void close(ConnId conn, int code, const std::string& reason) = 0;
  // Runs fn on the io thread.
  virtual void post(std::function<void()> fn) = 0;
  // Runs fn on the io thread after d (not run when the endpoint stops first).
  virtual void after(std::chrono::milliseconds d, std::function<void()> fn) = 0;
  // Bytes queued on the connection and not yet written to the socket (0 when gone).
  // Call it on the io thread.
  virtual std::size_t buffered(ConnId conn) const = 0;
  // listen: the bound port (useful with port 0).
  virtual std::uint16_t port() const = 0;
};

}  // namespace weir::ws
