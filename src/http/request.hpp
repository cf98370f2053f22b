// Internal: what the server does with a request between the wire and a handler, without a socket,
// so that the sessions and the fuzz target (tests/fuzz) run the same code.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>

#include "http/server.hpp"

namespace weir::http::detail {

using RequestMessage = boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// A parser with the server's limits on the request line + headers and on the body.
void limit_parser(RequestParser& parser, const ServerOptions& options);

// The answer to a failed read (not a timeout): 431, 413 or 400 with its reason; nullopt when the
// connection just ends (the client closed it, or the message stopped half-way).
std::optional<Response> read_error_response(const boost::system::error_code& ec,
                                            const ServerOptions& options);

// Fills `req` from a complete message (all but `remote`; the body is moved out). `upgrades`: the
// server has an UpgradeHandler. Sets `upgrade` for a WebSocket upgrade it would hand to it.
// Returns the refusal (400, 426) when the request never reaches a handler.
std::optional<Response> to_request(RequestMessage& msg, bool upgrades, Request& req, bool& upgrade);

}  // namespace weir::http::detail
