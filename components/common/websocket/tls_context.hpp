// Internal: the TLS contexts of the link, built once at start() so that a bad certificate or key
// is a start() error and not a failure of every connection.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "common/websocket/link.hpp"

namespace weir::ws::detail {

using SslContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// TLS >= 1.2 server context with tls.cert/tls.key; with tls.ca, client certificates are required
// and must chain to it. Null with `error` set when a file does not load.
SslContextPtr make_server_context(const TlsOptions& tls, std::string& error);

// TLS >= 1.2 client context that verifies the server against tls.ca (else the system's CAs) and
// `host` (name or IP address); presents tls.cert/tls.key when set.
SslContextPtr make_client_context(const TlsOptions& tls, const std::string& host, std::string& error);

// Why the TLS handshake on `ssl` failed, as its certificate checks and alerts saw it ("" when
// nothing was seen). websocketpp reports every handshake failure as one generic error.
std::string handshake_failure(SSL* ssl);

}  // namespace weir::ws::detail
