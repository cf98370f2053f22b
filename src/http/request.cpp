#include "http/request.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstdint>

#include "http/parse.hpp"

namespace weir::http::detail {

namespace bhttp = boost::beast::http;

void limit_parser(RequestParser& parser, const ServerOptions& options) {
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header, UINT32_MAX)));
  parser.body_limit(options.max_body);
}

std::optional<Response> read_error_response(const boost::system::error_code& ec,
                                            const ServerOptions& options) {
  if (ec == bhttp::error::header_limit)
    return json_error(431, "request header larger than " + std::to_string(options.max_header) + " bytes");
  if (ec == bhttp::error::body_limit)
    return json_error(413, "request body larger than " + std::to_string(options.max_body) + " bytes");
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
    return json_error(400, "malformed request: " + ec.message());
  return std::nullopt;
}

std::optional<Response> to_request(RequestMessage& msg, bool upgrades, Request& req, bool& upgrade) {
  upgrade = false;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  std::string reason;
  if (!parse_target(msg.target(), req.path, req.query, reason)) return json_error(400, reason);
  if (msg.version() >= 11 && msg.find(bhttp::field::host) == msg.end())
    return json_error(400, "missing Host header");
  req.content_type = std::string(msg[bhttp::field::content_type]);
  req.authorization = std::string(msg[bhttp::field::authorization]);
  req.headers.clear();
  for (const auto& h : msg) req.headers.emplace_back(std::string(h.name_string()), std::string(h.value()));
  req.body = std::move(msg.body());
  if (!upgrades || !boost::beast::websocket::is_upgrade(msg)) return std::nullopt;
  // Refused here rather than by the handshake, so that on_open follows every accepted Upgrade
  // unless the connection itself fails.
  if (msg.method() != bhttp::verb::get || msg[bhttp::field::sec_websocket_key].empty())
    return json_error(400, "malformed WebSocket upgrade request");
  if (msg[bhttp::field::sec_websocket_version] != "13") {
    Response r = json_error(426, "unsupported WebSocket version (13 is)");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }
  upgrade = true;
  return std::nullopt;
}

}  // namespace weir::http::detail
