#include "http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "http/client_run.hpp"
#include "http/parse.hpp"

namespace weir::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::uint64_t max_response_body = 64 << 20;

ClientResult exchange(std::string_view method, std::string_view host_port, std::string_view target,
                      std::string_view body, std::string_view token, std::chrono::milliseconds timeout) {
  ClientResult out;
  std::string host, port, authority;
  if (!detail::client_address(host_port, host, port, authority, out.error)) return out;
  auto explain = [&](const error_code& ec) {
    if (ec == beast::error::timeout)
      return authority + ": timed out after " + std::to_string(timeout.count()) + " ms";
    return authority + ": " + detail::lower_first(ec.message());
  };

  asio::io_context io;
  tcp::resolver resolver(io);
  error_code ec;
  const auto endpoints = resolver.resolve(host, port, ec);
  if (ec) {
    out.error = explain(ec);
    return out;
  }
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);  // one deadline for the whole exchange
  ec = *detail::run_op(io, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
  if (ec) {
    out.error = explain(ec);
    return out;
  }

  bhttp::request<bhttp::string_body> req;
  req.version(11);
  const auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target.empty() ? std::string_view("/") : target);
  req.set(bhttp::field::host, authority);
  req.set(bhttp::field::user_agent, "weir");
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + std::string(token));
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.keep_alive(false);
  req.prepare_payload();
  const error_code write_ec =
      *detail::run_op(io, [&](auto handler) { bhttp::async_write(stream, req, std::move(handler)); });

  // Read even after a failed write: a server refusing a large body (413) answers and closes
  // while the body is still being sent.
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(max_response_body);
  parser.skip(req.method() == bhttp::verb::head);  // its Content-Length announces no body
  ec = *detail::run_op(io,
                       [&](auto handler) { bhttp::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) {
    out.error = explain(write_ec ? write_ec : ec);
    return out;
  }
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
  return out;
}

}  // namespace

ClientResult request(std::string_view method, std::string_view host_port, std::string_view target,
                     std::string_view body, std::string_view token, std::chrono::milliseconds timeout) {
  try {
    return exchange(method, host_port, target, body, token, timeout);
  } catch (const std::exception& e) {  // Beast refuses absurd fields (a token over 64 KiB)
    ClientResult out;
    out.error = std::string(host_port) + ": " + e.what();
    return out;
  }
}

}  // namespace weir::http
