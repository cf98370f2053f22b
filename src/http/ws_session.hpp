// Internal: a WebSocket connection, taken over from an HTTP session after its upgrade request.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <string>

#include "http/shared.hpp"

namespace weir::http::detail {

// Completes the handshake for `request`, then serves the channel. `upgrade.on_close` fires once
// whatever happens, also when the socket is already closed.
void start_ws_session(boost::asio::ip::tcp::socket socket,
                      boost::beast::http::request<boost::beast::http::string_body> request, Upgrade upgrade,
                      std::shared_ptr<Shared> shared, std::string remote);

}  // namespace weir::http::detail
