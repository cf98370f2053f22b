// An HTTP/1.1 client for outputs that POST records (http_output): keep-alive connections per
// origin, TLS through the bridge's verified client context, every step under a deadline. Beast
// and Asio stay in client.cpp: this header is all a component sees.
//
// Threading: one thread at a time calls exchange(); cancel() may come from any thread and makes
// a running or later exchange() return at once (for stop()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/websocket/link.hpp"  // ws::TlsOptions: cert, key, ca

namespace weir::httpc {

// Where a request goes, from an http:// or https:// URL.
struct Target {
  bool tls = false;
  std::string host;  // a name or an IP address (IPv6 without brackets)
  std::uint16_t port = 0;
  std::string path;            // origin form: "/a/b?x=1" ("/" when the URL had none)
  std::string origin() const;  // "http://host:port": the connection pool's key
};

// Parses `url`; an error text when it is not an absolute http(s) URL with a host, or holds
// credentials (user:password@) or a fragment.
std::optional<std::string> parse_url(std::string_view url, Target& out);

struct Request {
  std::string method;  // "POST", "PUT"
  Target target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct Response {
  // 0 when no response came: `error` says why (connect, TLS, timeout, reset).
  unsigned status = 0;
  std::string error;
  std::string body_head;    // the first max_body_head bytes of the body
  std::string retry_after;  // the Retry-After header, raw ("" when absent)
  bool reused = false;      // sent on a kept-alive connection (a failure may be a stale one)
  bool sent = false;        // the whole request was written
};

struct Options {
  std::chrono::milliseconds connect_timeout{5000};   // TCP connect and TLS handshake
  std::chrono::milliseconds request_timeout{30000};  // writing the request and reading the response
  ws::TlsOptions tls;
  std::size_t max_connections = 8;     // kept-alive connections, one per origin, least recent closed
  std::size_t max_body_head = 1024;    // bytes of a response body kept (for the error port)
  std::size_t max_response = 1 << 20;  // bytes read from a body; past it the connection is dropped
};

class Client {
 public:
  explicit Client(Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `req` on a kept-alive connection to its origin (a new one when there is none) and
  // reads the response; never throws.
  Response exchange(const Request& req);
  void cancel();
  std::uint64_t connects() const { return connects_.load(); }  // connections opened

 private:
  struct Impl;
  Options options_;
  std::unique_ptr<Impl> impl_;
  std::atomic<std::uint64_t> connects_{0};
};

// Seconds to wait from a Retry-After value: delay-seconds or an HTTP date (IMF-fixdate, RFC 850
// or asctime), measured from `now`; nullopt when it is neither. A date in the past gives 0.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// The hex SHA-256 of `parts`, each preceded by its length (so ["ab","c"] and ["a","bc"] differ).
std::string sha256_hex(const std::vector<std::string_view>& parts);

}  // namespace weir::httpc
