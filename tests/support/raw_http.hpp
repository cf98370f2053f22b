// A raw HTTP/1.1 client for tests that choose their own headers and content types, or drop a
// response on purpose (a client whose link went away before the answer came). Blocking, one
// request per connection (Connection: close).
#pragma once

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::testing {

struct RawReply {
  int status = 0;  // 0: no answer (connection refused or reset, or not read)
  std::string head, body;
  std::string error;
  bool has(const std::string& text) const { return head.find(text) != std::string::npos; }
};

// The bytes of a request as raw_request sends it (Connection: close, Content-Length).
inline std::string raw_request_text(const std::string& body, const std::vector<std::string>& headers = {},
                                    const std::string& target = "/", const std::string& method = "POST") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  return req + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Reads `s` (a socket, a TLS stream) until the server closes it, and parses the answer.
template <class Stream>
RawReply read_reply(Stream& s) {
  RawReply r;
  boost::system::error_code ec;
  std::string all;
  std::array<char, 4096> buf{};
  for (;;) {
    const auto n = s.read_some(boost::asio::buffer(buf), ec);
    all.append(buf.data(), n);
    if (ec) break;
  }
  const auto end = all.find("\r\n\r\n");
  if (end == std::string::npos || all.size() < 12 || all.compare(0, 5, "HTTP/") != 0) {
    r.error = "no complete answer (" + ec.message() + ")";
    return r;
  }
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  r.status = std::stoi(all.substr(9, 3));
  return r;
}

// `read` false: the request is sent and the connection closed without reading the answer.
inline RawReply raw_request(std::uint16_t port, const std::string& body,
                            const std::vector<std::string>& headers = {}, const std::string& target = "/",
                            const std::string& method = "POST", bool read = true) {
  namespace asio = boost::asio;
  RawReply r;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) {
    r.error = ec.message();
    return r;
  }
  asio::write(s, asio::buffer(raw_request_text(body, headers, target, method)), ec);
  if (ec) {
    r.error = ec.message();
    return r;
  }
  if (!read) return r;
  return read_reply(s);
}

}  // namespace weir::testing
