#include "http/http_session.hpp"

#include "http/http_session_impl.hpp"

namespace weir::http::detail {

namespace session {

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos)
      return false;
  }
  return true;
}

// Beast throws for a field longer than 64 KiB; far below that is plenty for a response header.
constexpr std::size_t max_field_value = 8192;

bool is_field_value(std::string_view s) {
  return s.size() <= max_field_value && s.find_first_of(std::string_view("\r\n\0", 3)) == s.npos;
}

Response call_handler(const Shared& shared, const Request& req) {
  if (!shared.handler) return json_error(404, "not found");
  try {
    return shared.handler(req);
  } catch (const std::exception& e) {
    spdlog::error("http: handler for {} {} from {} failed: {}", req.method, req.path, req.remote, e.what());
  } catch (...) {
    spdlog::error("http: handler for {} {} from {} failed: unknown exception", req.method, req.path,
                  req.remote);
  }
  return json_error(500, "internal error: the request handler failed");
}

std::variant<Response, Upgrade> call_upgrade(const Shared& shared, const Request& req) {
  try {
    return shared.upgrade(req);
  } catch (const std::exception& e) {
    spdlog::error("http: upgrade handler for {} from {} failed: {}", req.path, req.remote, e.what());
  } catch (...) {
    spdlog::error("http: upgrade handler for {} from {} failed: unknown exception", req.path, req.remote);
  }
  return json_error(500, "internal error: the upgrade handler failed");
}

}  // namespace session

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
}  // namespace

std::string remote_text(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

void start_http_session(tcp::socket socket, std::shared_ptr<Shared> shared) {
  if (shared->options.tls) return start_https_session(std::move(socket), std::move(shared));
  session::start_session<beast::tcp_stream>(std::move(socket), std::move(shared));
}

}  // namespace weir::http::detail
