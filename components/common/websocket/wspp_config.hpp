// Internal: websocketpp configurations of the link (C++17 only, see meson.build).
//
// The library headers are noisy under -Wall -Wextra; this header is where they come in, so it is
// marked a system header and the warnings of our own code stay errors everywhere else.
#pragma once
#pragma GCC system_header

#include <spdlog/spdlog.h>

#include <string>
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/logger/stub.hpp>
#include <websocketpp/server.hpp>

#include "sdk/log.hpp"

namespace weir::ws::detail {

// websocketpp's error log goes to spdlog at debug, never to stdout/stderr: the owner logs the
// transitions that matter, and a failing peer must not flood the console.
class SpdlogLog {
 public:
  using level = websocketpp::log::level;
  using hint = websocketpp::log::channel_type_hint::value;

  SpdlogLog() = default;
  explicit SpdlogLog(hint) {}
  SpdlogLog(level, hint) {}

  // Set before the io thread starts; read only on it afterwards.
  void set_log(sdk::Log log) { log_ = std::move(log); }

  void set_channels(level) {}
  void clear_channels(level) {}
  void write(level, std::string const& msg) { log_.debug("websocketpp: {}", msg); }
  void write(level, char const* msg) { log_.debug("websocketpp: {}", msg); }
  bool static_test(level) const { return true; }
  bool dynamic_test(level) { return spdlog::should_log(spdlog::level::debug); }

 private:
  sdk::Log log_;
};

// The close handshake waits at most this long for the peer's answer before the socket is cut;
// stop() relies on it to stay bounded.
inline constexpr long close_handshake_timeout_ms = 1000;

// One config for each role x transport. Base: websocketpp::config::core (server) or core_client;
// Socket: the asio transport's basic_socket or tls_socket endpoint.
template <class Base, class Socket, bool Tls>
struct LinkConfig : public Base {
  typedef LinkConfig type;
  typedef Base base;

  typedef typename base::concurrency_type concurrency_type;
  typedef typename base::request_type request_type;
  typedef typename base::response_type response_type;
  typedef typename base::message_type message_type;
  typedef typename base::con_msg_manager_type con_msg_manager_type;
  typedef typename base::endpoint_msg_manager_type endpoint_msg_manager_type;
  typedef SpdlogLog elog_type;
  typedef websocketpp::log::stub alog_type;  // access log: nothing
  typedef typename base::rng_type rng_type;

  struct transport_config : public base::transport_config {
    typedef typename type::concurrency_type concurrency_type;
    typedef typename type::alog_type alog_type;
    typedef typename type::elog_type elog_type;
    typedef typename type::request_type request_type;
    typedef typename type::response_type response_type;
    typedef Socket socket_type;
    // The default (5 s) makes every TLS close wait when the peer does not answer close_notify.
    static const long timeout_socket_shutdown = 100;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;

  // Overridden per connection from EndpointOptions::open_timeout; this is the fallback.
  static const long timeout_open_handshake = 5000;
  static const long timeout_close_handshake = close_handshake_timeout_ms;

  static constexpr bool tls = Tls;
};

using PlainServerConfig =
    LinkConfig<websocketpp::config::core, websocketpp::transport::asio::basic_socket::endpoint, false>;
using TlsServerConfig =
    LinkConfig<websocketpp::config::core, websocketpp::transport::asio::tls_socket::endpoint, true>;
using PlainClientConfig =
    LinkConfig<websocketpp::config::core_client, websocketpp::transport::asio::basic_socket::endpoint, false>;
using TlsClientConfig =
    LinkConfig<websocketpp::config::core_client, websocketpp::transport::asio::tls_socket::endpoint, true>;

}  // namespace weir::ws::detail
