// The HTTP server's request path without a socket: bytes through Beast's parser with the
// server's limits (fed in pieces, as reads deliver them), then what the server does before a
// handler sees a request (target decoding, Host, upgrade checks, bearer tokens), for every
// request of a keep-alive connection. The first byte picks the size of the pieces.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request.hpp"

namespace http = weir::http;
namespace detail = weir::http::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);
  http::ServerOptions options;
  options.max_body = 4096;
  options.max_header = 2048;

  for (int n = 0; n < 8 && !wire.empty(); ++n) {  // requests on one connection
    detail::RequestParser parser;
    detail::limit_parser(parser, options);
    parser.eager(true);
    boost::system::error_code ec;
    std::size_t fed = 0;   // bytes of `wire` the parser has seen
    std::size_t used = 0;  // bytes it consumed
    for (;;) {
      fed = std::min(wire.size(), std::max(fed, used) + piece);
      const std::size_t n_used = parser.put(boost::asio::buffer(wire.data() + used, fed - used), ec);
      used += n_used;
      if (ec == boost::beast::http::error::need_more) ec = {};
      if (ec || parser.is_done()) break;
      if (fed == wire.size() && n_used == 0) {  // the client stops sending
        parser.put_eof(ec);
        break;
      }
    }
    if (ec || !parser.is_done()) {
      auto r = detail::read_error_response(ec, options);
      if (r && (r->status < 400 || r->body.empty())) std::abort();
      return 0;
    }
    wire.remove_prefix(used);
    detail::RequestMessage msg = parser.release();
    const bool keep_alive = msg.keep_alive();
    http::Request req;
    bool upgrade = false;
    if (auto refused = detail::to_request(msg, n % 2 == 0, req, upgrade)) {
      if (refused->status != 400 && refused->status != 426) std::abort();
      return 0;
    }
    if (req.path.empty()) std::abort();
    (void)http::bearer_matches(req.authorization, "secret-token");
    if (!keep_alive || upgrade) return 0;
  }
  return 0;
}
