// HTTPS sessions: the HTTP session (http_session_impl.hpp) on a TLS stream.
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "http/http_session.hpp"
#include "http/http_session_impl.hpp"

namespace weir::http::detail {

void start_https_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<Shared> shared) {
  auto& ctx = *shared->options.tls;
  session::start_session<boost::beast::ssl_stream<boost::beast::tcp_stream>>(std::move(socket),
                                                                             std::move(shared), ctx);
}

}  // namespace weir::http::detail
