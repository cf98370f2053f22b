// Small blocking clients for the CLI: one HTTP request, and a WebSocket read loop (taps).
// Plain HTTP over TCP only. Each call runs its own io_context on the calling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace weir::http {

struct ClientResult {
  int status = 0;  // 0 when no response came (see error)
  std::string body;
  std::string error;  // "127.0.0.1:8080: connection refused", "127.0.0.1:8080: timed out after 5000 ms"
};

// `host_port` "127.0.0.1:8080", "[::1]:8080", also with an "http://" prefix. A non-empty `body`
// is sent as application/json; a non-empty `token` as "Authorization: Bearer <token>".
// `timeout` bounds the whole exchange.
ClientResult request(std::string_view method, std::string_view host_port, std::string_view target,
                     std::string_view body = {}, std::string_view token = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Connects, upgrades, and calls `on_message` for every text frame until it returns false, the
// server closes, or `*stop` becomes true (looked at every 200 ms at least). Returns the HTTP
// status when the upgrade was refused (*error gets the response body), 0 on a normal end, -1 on
// a network or protocol error (*error says which).
int stream_websocket(std::string_view host_port, std::string_view target, std::string_view token,
                     const std::function<bool(std::string_view)>& on_message, std::string* error,
                     const std::atomic<bool>* stop = nullptr);

}  // namespace weir::http
