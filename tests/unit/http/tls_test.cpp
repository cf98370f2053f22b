// The HTTP server with a TLS context (ServerOptions::tls): HTTPS with keep-alive, the handshake
// failures it counts and survives, the 503 past max_connections after the handshake, and no
// WebSocket upgrades over TLS.
#include <doctest/doctest.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "http_test_support.hpp"
#include "support/test_pki.hpp"

using namespace weir::http;
using namespace weir::http::testing;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

ServerOptions tls_options(const weir::testing::Pki& pki) {
  ServerOptions o;
  o.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  o.tls->use_certificate_chain_file(pki.path("server.pem"));
  o.tls->use_private_key_file(pki.path("server.key"), asio::ssl::context::pem);
  return o;
}

// A blocking HTTPS client that trusts the test CA.
class TlsConn {
 public:
  TlsConn(const weir::testing::Pki& pki, unsigned short port)
      : ctx_(asio::ssl::context::tls_client), s_(io_, ctx_) {
    ctx_.load_verify_file(pki.path("ca.pem"));
    s_.set_verify_mode(asio::ssl::verify_peer);
    s_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  }
  boost::system::error_code handshake() {
    boost::system::error_code ec;
    s_.handshake(asio::ssl::stream_base::client, ec);
    return ec;
  }
  // Sends a GET and reads its response; status 0 with `ec` set when that failed.
  bhttp::response<bhttp::string_body> get(const std::string& target, bool close,
                                          boost::system::error_code& ec) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "x");
    req.keep_alive(!close);
    bhttp::write(s_, req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) bhttp::read(s_, buffer_, res, ec);
    return res;
  }
  // The error of the next read: eof once the server closed the TLS session cleanly.
  boost::system::error_code next_read() {
    std::array<char, 64> buf{};
    boost::system::error_code ec;
    s_.read_some(asio::buffer(buf), ec);
    return ec;
  }

 private:
  asio::io_context io_;
  asio::ssl::context ctx_;
  asio::ssl::stream<asio::ip::tcp::socket> s_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace

TEST_CASE("HTTPS: two requests on one TLS connection; Connection: close ends it with close_notify") {
  weir::testing::Pki pki;
  std::atomic<int> calls{0};
  TestServer ts(tls_options(pki), [&](const Request& r) { return text(r.path + std::to_string(++calls)); });
  TlsConn c(pki, ts.port());
  REQUIRE(!c.handshake());
  boost::system::error_code ec;
  auto r = c.get("/a", false, ec);
  REQUIRE_MESSAGE(!ec, ec.message());
  CHECK(r.result_int() == 200);
  CHECK(r.body() == "/a1");
  r = c.get("/b", true, ec);
  REQUIRE_MESSAGE(!ec, ec.message());
  CHECK(r.body() == "/b2");
  CHECK(c.next_read() == asio::error::eof);
  CHECK(ts.server.tls_handshake_failures() == 0);
}

TEST_CASE(
    "HTTPS: a plain HTTP request gets a plain 400, a stalled handshake is closed; both counted, a bare "
    "connect and close not") {
  weir::testing::Pki pki;
  auto o = tls_options(pki);
  o.read_timeout = 500ms;
  TestServer ts(o, [](const Request&) { return text("ok"); });
  RawConn plain(ts.port());
  REQUIRE(plain.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const Reply refused = plain.read_response();
  CHECK(refused.status == 400);
  CHECK(refused.header("connection") == "close");
  CHECK(refused.body == R"({"error":"this listener speaks HTTPS only: use https://","status":400})");
  CHECK(plain.wait_closed());
  {
    RawConn probe(ts.port());  // connected and closed without a byte, as a TCP health check: not counted
  }
  RawConn silent(ts.port());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(silent.wait_closed());
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  // Counted before the close the client saw: the plain request and the silent connection.
  CHECK(ts.server.tls_handshake_failures() == 2);
  TlsConn c(pki, ts.port());
  REQUIRE(!c.handshake());
  boost::system::error_code ec;
  CHECK(c.get("/", true, ec).body() == "ok");
}

TEST_CASE("HTTPS past max_connections: the handshake, then 503") {
  weir::testing::Pki pki;
  auto o = tls_options(pki);
  o.max_connections = 1;
  TestServer ts(o, [](const Request&) { return text("ok"); });
  TlsConn first(pki, ts.port());
  REQUIRE(!first.handshake());
  REQUIRE(wait_until([&] { return ts.server.connections() == 1; }));
  TlsConn second(pki, ts.port());
  REQUIRE(!second.handshake());
  boost::system::error_code ec;
  CHECK(second.get("/", true, ec).result_int() == 503);
  CHECK(first.get("/", true, ec).body() == "ok");
}

TEST_CASE("HTTPS: no WebSocket upgrades: start() refuses an UpgradeHandler with a TLS context") {
  weir::testing::Pki pki;
  asio::io_context io;
  auto o = tls_options(pki);
  o.listen = "127.0.0.1:0";
  Server s(
      io, o, [](const Request&) { return text("ok"); },
      [](const Request&) -> std::variant<Response, Upgrade> { return text("no"); });
  std::string error;
  CHECK_FALSE(s.start(&error));
  CHECK(error.find("WebSocket upgrades are not served over TLS") != std::string::npos);
}
