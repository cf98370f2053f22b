#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "http/client.hpp"
#include "http/client_run.hpp"
#include "http/parse.hpp"

namespace weir::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::chrono::seconds connect_timeout{5};
// The server pings every 20 s: this long without a frame means it is gone.
constexpr std::chrono::seconds idle_timeout{60};
constexpr std::chrono::milliseconds close_wait{1000};
constexpr std::size_t max_message = 64 << 20;

// Sends a close frame and waits a little for the server's; whatever is pending is then dropped
// with the io_context.
void close_quietly(asio::io_context& io, websocket::stream<beast::tcp_stream>& ws) {
  auto done = std::make_shared<bool>(false);
  ws.async_close(websocket::close_code::normal, [done](error_code) { *done = true; });
  const auto deadline = std::chrono::steady_clock::now() + close_wait;
  if (io.stopped()) io.restart();
  while (!*done && std::chrono::steady_clock::now() < deadline) {
    if (io.run_one_until(deadline) == 0 && io.stopped()) break;
  }
}

}  // namespace

int stream_websocket(std::string_view host_port, std::string_view target, std::string_view token,
                     const std::function<bool(std::string_view)>& on_message, std::string* error,
                     const std::atomic<bool>* stop) {
  std::string reason;
  auto fail = [&](int code, std::string message) {
    if (error) *error = std::move(message);
    return code;
  };
  std::string host, port, authority;
  if (!detail::client_address(host_port, host, port, authority, reason)) return fail(-1, reason);
  auto explain = [&](const error_code& ec) { return authority + ": " + detail::lower_first(ec.message()); };

  asio::io_context io;
  tcp::resolver resolver(io);
  error_code ec;
  const auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return fail(-1, explain(ec));
  websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).expires_after(connect_timeout);
  auto r = detail::run_op(
      io, [&](auto handler) { beast::get_lowest_layer(ws).async_connect(endpoints, std::move(handler)); },
      stop);
  if (!r) return 0;
  if (*r) return fail(-1, explain(*r));

  beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = connect_timeout;
  timeouts.idle_timeout = idle_timeout;
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.set_option(
      websocket::stream_base::decorator([bearer = std::string(token)](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "weir");
        if (!bearer.empty()) req.set(beast::http::field::authorization, "Bearer " + bearer);
      }));
  ws.read_message_max(max_message);
  websocket::response_type res;
  const std::string path = target.empty() ? std::string("/") : std::string(target);
  r = detail::run_op(
      io, [&](auto handler) { ws.async_handshake(res, authority, path, std::move(handler)); }, stop);
  if (!r) return 0;
  if (*r == websocket::error::upgrade_declined && res.result_int() >= 200) {
    return fail(static_cast<int>(res.result_int()), res.body());
  }
  if (*r) return fail(-1, explain(*r));

  beast::flat_buffer buffer;
  for (;;) {
    r = detail::run_op(
        io, [&](auto handler) { ws.async_read(buffer, std::move(handler)); }, stop);
    if (!r) {
      close_quietly(io, ws);
      return 0;
    }
    if (*r == websocket::error::closed) return 0;
    if (*r) return fail(-1, explain(*r));
    if (ws.got_text()) {
      const bool more =
          on_message(std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()));
      buffer.consume(buffer.size());
      if (!more) {
        close_quietly(io, ws);
        return 0;
      }
    } else {
      buffer.consume(buffer.size());
    }
  }
}

}  // namespace weir::http
