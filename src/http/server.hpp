// The HTTP/1.1 + WebSocket server the engine serves /health, /metrics, /api/v1/... and taps on.
// Transport only: routes are the Handler's business. Beast and Asio stay out of this header.
//
// Threading: the owner runs the io_context (one or more threads); start() only registers work.
// Sockets live on the io_context; Handler and UpgradeHandler run on `workers` threads of the
// server's own, so a handler may block for seconds while /health on another connection keeps
// answering. Upgrade::on_open / on_close run on the io_context and must not block.
// The io_context must outlive the Server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace weir::http {

struct Request {
  std::string method;                                      // "GET"
  std::string target;                                      // raw target "/api/v1/flows?x=1"
  std::string path;                                        // percent-decoded path without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded ('+' is a space), in order
  std::string body;
  std::string content_type;
  std::string authorization;  // raw header value
  std::string remote;         // "127.0.0.1:53412", "[::1]:53412"
  // Every header as it came (names as sent), in order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of the first header named `name` (case-insensitive), empty when there is none.
  std::string_view header(std::string_view name) const;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type header
  std::string body;
  // Extra headers. Content-Length, Transfer-Encoding, Connection and Server are the server's own
  // and ignored here; a malformed header (CR, LF or NUL, a value over 8 KiB) is dropped and logged.
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"error": reason, "status": N}, as application/json.
Response json_error(unsigned status, std::string_view reason);

// True when `authorization` is "Bearer <token>" (scheme case-insensitive) with the right token,
// compared in a time that does not depend on where they differ. An empty `token` never matches.
bool bearer_matches(std::string_view authorization, std::string_view token);

// A live WebSocket to one client, owned by the server. Thread-safe. send() never blocks: a message
// that would take the client's unsent backlog over ServerOptions::ws_max_backlog_bytes is dropped
// and counted (so is any message larger than the limit). send() returns false for a dropped
// message and once the channel is closed. The object may be held after the socket is gone.
class WsChannel {
 public:
  virtual ~WsChannel() = default;
  virtual bool send(std::string text) = 0;  // one text frame
  // No more send(); what is queued is still written, then the close frame. A client that has not
  // taken it all and answered within read_timeout is disconnected.
  virtual void close() = 0;
  virtual bool closed() const = 0;            // true once close() was called or the socket is gone
  virtual std::uint64_t sent() const = 0;     // messages written to the socket
  virtual std::uint64_t dropped() const = 0;  // messages refused for the backlog limit
};

// An accepted upgrade. on_close fires exactly once for every Upgrade the UpgradeHandler returned,
// when the socket is gone, also when the handshake failed and on_open never ran.
struct Upgrade {
  std::function<void(std::shared_ptr<WsChannel>)> on_open;  // once the handshake completed
  std::function<void()> on_close;
};

using Handler = std::function<Response(const Request&)>;
// For a request asking for a WebSocket upgrade: a Response refuses it (sent as plain HTTP, then
// the connection is closed), an Upgrade accepts. A malformed upgrade (not GET, no
// Sec-WebSocket-Key: 400; a version other than 13: 426) never reaches it. Without an
// UpgradeHandler, upgrade requests go to the Handler like any other request.
using UpgradeHandler = std::function<std::variant<Response, Upgrade>(const Request&)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks one; IPv6 "[::1]:8080"
  std::size_t max_body = 1 << 20;         // larger → 413 and close
  std::size_t max_header = 16 * 1024;     // request line + headers; larger → 431 and close
  // A request (or a new connection's first request) that takes longer to arrive is answered 408
  // when some of it came, and the connection closed. Also the WebSocket handshake limits.
  std::chrono::milliseconds read_timeout{10000};
  // Keep-alive idle, and the time a client gets to take a response before it is dropped.
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_connections = 64;  // HTTP and WebSocket; beyond: 503 and close
  std::size_t workers = 2;           // handler threads
  std::size_t ws_max_backlog_bytes = 1 << 20;
  // Set: HTTPS only. Each connection's TLS handshake must complete within read_timeout; the
  // context decides the certificate, the protocol versions and whether clients need a
  // certificate. A client that fails it (plain HTTP, an unknown certificate) is closed. No
  // WebSocket upgrades then: start() refuses an UpgradeHandler.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Handler handler, UpgradeHandler upgrade = {});
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens, starts the workers, registers the accept loop on the io_context (which
  // the owner runs). False with e.g. "127.0.0.1:8080: address already in use". Once only.
  bool start(std::string* error);
  // Closes the acceptor and every connection (WebSockets get their queue and a close frame
  // within a 1 s grace), drops queued handler calls and joins the workers (a running handler is
  // waited for).
  // Called off the io_context while it runs, it also waits (bounded) until every connection is
  // gone, so all on_close callbacks have run when it returns. Never call it from a handler.
  void stop();
  unsigned short port() const;                   // the bound port, 0 before start()
  std::size_t connections() const;               // open HTTP and WebSocket connections
  std::uint64_t tls_handshake_failures() const;  // connections closed for a failed TLS handshake

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::http
