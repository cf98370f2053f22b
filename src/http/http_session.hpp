// Internal: one accepted HTTP connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "http/shared.hpp"

namespace weir::http::detail {

// Serves HTTP/1.1 on an accepted socket whose executor is a strand of its own, or answers 503
// and closes when max_connections are open. HTTPS when the options hold a TLS context.
void start_http_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<Shared> shared);
// The same over TLS (http_session_tls.cpp, the one translation unit with Asio's SSL).
void start_https_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<Shared> shared);

// "127.0.0.1:53412", "[::1]:53412"; "?" when the peer is already gone.
std::string remote_text(const boost::asio::ip::tcp::socket& socket);

}  // namespace weir::http::detail
