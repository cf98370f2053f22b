// Internal: one HTTP/1.1 connection, on a plain TCP stream (http_session.cpp) or a TLS one
// (http_session_tls.cpp): the same session, instantiated in the translation unit of each, so that
// only one of them compiles Asio's SSL.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>
#include <type_traits>
#include <variant>

#include "http/http_session.hpp"
#include "http/request.hpp"
#include "http/ws_session.hpp"

namespace weir::http::detail {

namespace session {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// How long a connection closed after an error response is drained, so that the client reads
// the response instead of a reset.
inline constexpr std::chrono::milliseconds max_linger{2000};
inline constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";

// A response header name and value the server sends (http_session.cpp).
bool is_token(std::string_view s);
bool is_field_value(std::string_view s);
// The handlers, an escaped exception turned into a 500 with a log line (http_session.cpp).
Response call_handler(const Shared& shared, const Request& req);
std::variant<Response, Upgrade> call_upgrade(const Shared& shared, const Request& req);

// Serves HTTP/1.1 on `Stream`: beast::tcp_stream, or an SSL stream over one (`tls`), whose TLS
// handshake comes first, within read_timeout. WebSocket upgrades are served on plain streams only
// (Server::start refuses an UpgradeHandler with TLS).
template <class Stream>
class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  static constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;

  // `tls`: the TLS context (HTTPS sessions only).
  template <class... Tls>
  HttpSession(tcp::socket&& socket, std::shared_ptr<Shared> shared, bool busy, Tls&... tls)
      : remote_(remote_text(socket)),
        stream_(std::move(socket), tls...),
        timer_(stream_.get_executor()),
        shared_(std::move(shared)),
        busy_(busy) {}

  ~HttpSession() override {
    if (busy_) {
      --shared_->busy_replies;
    } else if (registered_) {
      shared_->remove(this);
    }
  }

  void run() {
    if (!busy_) {
      shared_->add(this->shared_from_this());
      registered_ = true;
    }
    // After add(): stop() either saw this session or set `stopping` before it was checked here.
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (tls) {
        if (self->shared_->stopping) return self->close_now();
        self->do_handshake();
      } else {
        self->begin();
      }
    });
  }

  void shutdown() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
  }

 private:
  const ServerOptions& opts() const { return shared_->options; }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // HTTPS: the TLS handshake, within read_timeout, before anything else (a 503 too). Its first
  // byte is looked at first (peeked, not read): a TLS record starts with 0x16, a request line with
  // a capital letter, and a plain HTTP request gets a plain 400 that says so rather than a
  // connection closed without a word.
  void do_handshake() {
    timer_.expires_after(opts().read_timeout);
    timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || self->closed_ || self->peeked_) return;
      self->handshake_failed("nothing sent within read_timeout");
    });
    lowest().socket().async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](error_code ec) {
      if (self->closed_) return;
      self->peeked_ = true;
      self->timer_.cancel();
      unsigned char first = 0;
      std::size_t n = 0;
      if (!ec) n = self->lowest().socket().receive(asio::buffer(&first, 1), tcp::socket::message_peek, ec);
      // Closed without a byte (a TCP health check, a port scan): no failed handshake.
      if (ec == asio::error::eof || (!ec && n == 0)) return self->close_now();
      if (ec) return self->handshake_failed(ec.message());
      if (first >= 'A' && first <= 'Z') return self->refuse_plain_http();
      self->lowest().expires_after(self->opts().read_timeout);
      self->stream_.async_handshake(Stream::server, [self](error_code ec) {
        if (self->closed_) return;
        if (ec) return self->handshake_failed(ec.message());
        self->begin();
      });
    });
  }

  void handshake_failed(const std::string& why) {
    ++shared_->tls_failures;
    spdlog::debug("http: {} TLS handshake failed: {}", remote_, why);
    close_now();
  }

  void refuse_plain_http() {
    ++shared_->tls_failures;
    spdlog::debug("http: {} sent plain HTTP to an HTTPS listener", remote_);
    const auto r = json_error(400, "this listener speaks HTTPS only: use https://");
    plain_reply_ = "HTTP/1.1 400 Bad Request\r\nServer: weir\r\nContent-Type: " + r.content_type +
                   "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" +
                   r.body;
    asio::async_write(lowest(), asio::buffer(plain_reply_),
                      [self = this->shared_from_this()](error_code ec, std::size_t) {
                        if (self->closed_) return;
                        if (ec) return self->close_now();
                        error_code ignored;
                        self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->lowest().expires_after(std::min(self->opts().read_timeout, max_linger));
                        self->do_drain(true);
                      });
  }

  void begin() {
    if (busy_) {
      reply_error(503,
                  "too many connections (max_connections " + std::to_string(opts().max_connections) + ")");
    } else if (shared_->stopping) {
      close_now();
    } else {
      do_wait(true);
    }
  }

  // The first byte of the next request: a new connection gets read_timeout, an idle keep-alive
  // one idle_timeout. The tcp_stream closes the socket when that expires.
  void do_wait(bool first) {
    if (buffer_.size() > 0) return do_read_header();
    lowest().expires_after(first ? opts().read_timeout : opts().idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(4096),
        [self = this->shared_from_this()](error_code ec, std::size_t n) { self->on_wait(ec, n); });
  }

  void on_wait(error_code ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
      if (ec == beast::error::timeout) spdlog::debug("http: {} idle, closed", remote_);
      return close_now();
    }
    buffer_.commit(n);
    do_read_header();
  }

  // From the first byte on, the whole request must arrive within read_timeout (timer_).
  void do_read_header() {
    parser_.emplace();
    limit_parser(*parser_, opts());
    lowest().expires_never();
    timed_out_ = false;
    reading_ = true;
    timer_.expires_after(opts().read_timeout);
    timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || !self->reading_ || self->closed_) return;
      self->timed_out_ = true;
      self->lowest().cancel();
    });
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (closed_) return;
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request();
    const auto& req = parser_->get();
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      lowest().expires_after(opts().read_timeout);
      asio::async_write(stream_, asio::buffer(continue_100),
                        [self = this->shared_from_this()](error_code ec, std::size_t) {
                          if (self->closed_) return;
                          if (ec) return self->on_read_error(ec);
                          self->do_read_body();
                        });
      return;
    }
    do_read_body();
  }

  void do_read_body() {
    lowest().expires_never();
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](error_code ec, std::size_t) {
                        if (self->closed_) return;
                        if (ec) return self->on_read_error(ec);
                        self->on_request();
                      });
  }

  void on_read_error(error_code ec) {
    reading_ = false;
    timer_.cancel();
    if (timed_out_) {
      spdlog::debug("http: {} sent no complete request within read_timeout, closed", remote_);
      return reply_error(
          408, "request not received within " + std::to_string(opts().read_timeout.count()) + " ms");
    }
    if (auto r = read_error_response(ec, opts())) {
      spdlog::debug("http: {} sent a request refused with {}: {}", remote_, r->status, ec.message());
      return write_response(std::move(*r), false);
    }
    close_now();
  }

  void on_request() {
    reading_ = false;
    timer_.cancel();
    RequestMessage msg = parser_->release();
    parser_.reset();
    version_ = msg.version();
    head_ = msg.method() == bhttp::verb::head;
    keep_alive_ = msg.keep_alive();

    Request req;
    bool upgrade = false;
    if (auto refused = to_request(msg, !tls && static_cast<bool>(shared_->upgrade), req, upgrade))
      return write_response(std::move(*refused), false);
    req.remote = remote_;
    spdlog::debug("http: {} {} {}", remote_, req.method, req.target);
    if (upgrade) upgrade_request_ = std::move(msg);
    const bool queued =
        shared_->pool.submit([self = this->shared_from_this(), req = std::move(req), upgrade] {
          if (upgrade) {
            auto out = call_upgrade(*self->shared_, req);
            asio::post(self->stream_.get_executor(),
                       [self, out = std::move(out)]() mutable { self->on_upgrade_result(std::move(out)); });
          } else {
            auto res = call_handler(*self->shared_, req);
            asio::post(self->stream_.get_executor(),
                       [self, res = std::move(res)]() mutable { self->on_response(std::move(res)); });
          }
        });
    if (!queued) close_now();  // stopping
  }

  void on_response(Response res) {
    if (closed_) return;
    write_response(std::move(res), keep_alive_ && !shared_->stopping);
  }

  void on_upgrade_result(std::variant<Response, Upgrade> out) {
    if (auto* res = std::get_if<Response>(&out)) {
      if (closed_) return;
      return write_response(std::move(*res), false);
    }
    // Handed over even when the socket was closed meanwhile: the WebSocket session then fails
    // its handshake and still calls on_close. This session ends when this handler returns.
    if constexpr (!tls) {
      closed_ = true;
      start_ws_session(stream_.release_socket(), std::move(*upgrade_request_),
                       std::get<Upgrade>(std::move(out)), shared_, remote_);
    }
  }

  void reply_error(unsigned status, const std::string& reason) {
    write_response(json_error(status, reason), false);
  }

  void write_response(Response r, bool keep_alive) {
    if (r.status < 200 || r.status > 999) {
      spdlog::error("http: a handler answered {} with the invalid status {}", remote_, r.status);
      r = json_error(500, "internal error: invalid status");
    }
    res_.emplace();
    auto& m = *res_;
    m.version(version_);
    m.result(r.status);
    m.set(bhttp::field::server, "weir");
    if (!r.content_type.empty() && is_field_value(r.content_type))
      m.set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) {
      if (!is_token(name) || !is_field_value(value)) {
        spdlog::warn("http: dropped an invalid response header \"{}\"", name.substr(0, 64));
        continue;
      }
      if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
          beast::iequals(name, "server") || beast::iequals(name, "connection"))
        continue;
      m.insert(name, value);
    }
    m.keep_alive(keep_alive);
    if (r.status == 204 || r.status == 304) {
      // No body and no Content-Length for these.
    } else if (head_) {
      m.content_length(r.body.size());
    } else {
      m.body() = std::move(r.body);
      m.prepare_payload();
    }
    lowest().expires_after(opts().idle_timeout);
    bhttp::async_write(stream_, m, [self = this->shared_from_this(), keep_alive](error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close_now();
      self->res_.reset();
      if (!keep_alive || self->shared_->stopping) return self->linger_close();
      self->do_wait(false);
    });
  }

  // Half-closes, then reads and discards what the client still sends for a short while: closing
  // with unread data would reset the connection and could destroy the response in flight.
  // HTTPS: close_notify, then the client's, within the same time.
  void linger_close() {
    if constexpr (tls) {
      lowest().expires_after(std::min(opts().read_timeout, max_linger));
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close_now(); });
      return;
    }
    error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    lowest().expires_after(std::min(opts().read_timeout, max_linger));
    do_drain();
  }

  // `raw`: the TCP stream under a TLS one (after a plain HTTP request to it).
  void do_drain(bool raw = false) {
    auto next = [self = this->shared_from_this(), raw](error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close_now();
      self->do_drain(raw);
    };
    if (raw) return lowest().async_read_some(asio::buffer(drain_), std::move(next));
    stream_.async_read_some(asio::buffer(drain_), std::move(next));
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    reading_ = false;
    timer_.cancel();
    lowest().close();
  }

  const std::string remote_;
  Stream stream_;
  asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
  const bool busy_;
  bool registered_ = false;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::optional<RequestMessage> upgrade_request_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  std::array<char, 4096> drain_{};
  std::string plain_reply_;  // HTTPS: the 400 to a plain HTTP request
  bool peeked_ = false;      // HTTPS: the first byte came (the handshake's own timeout from then)
  unsigned version_ = 11;
  bool head_ = false;
  bool keep_alive_ = false;
  bool reading_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
};

// Starts a session on an accepted socket (`tls`: its TLS context), or a 503 answer when
// max_connections are open, or nothing when as many 503 answers are being written.
template <class Stream, class... Tls>
void start_session(tcp::socket socket, std::shared_ptr<Shared> shared, Tls&... tls) {
  const std::size_t max = shared->options.max_connections;
  const bool busy = shared->count() >= max;
  if (!busy) {
    shared->at_limit = false;
  } else {
    if (!shared->at_limit.exchange(true)) {
      spdlog::warn("http: {} connections open (max_connections), new ones get 503", max);
    }
    // Even the 503 answers are bounded: beyond as many again, connections are just closed.
    if (shared->busy_replies.load() >= max) return;
    ++shared->busy_replies;
  }
  std::make_shared<HttpSession<Stream>>(std::move(socket), std::move(shared), busy, tls...)->run();
}

}  // namespace session

}  // namespace weir::http::detail
