#include "http/http_session.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "http/request.hpp"
#include "http/ws_session.hpp"

namespace weir::http::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// How long a connection closed after an error response is drained, so that the client reads
// the response instead of a reset.
constexpr std::chrono::milliseconds max_linger{2000};
constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";

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

class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<Shared> shared, bool busy)
      : remote_(remote_text(socket)),
        stream_(std::move(socket)),
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
      shared_->add(shared_from_this());
      registered_ = true;
    }
    // After add(): stop() either saw this session or set `stopping` before it was checked here.
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->busy_) {
        self->reply_error(503, "too many connections (max_connections " +
                                   std::to_string(self->opts().max_connections) + ")");
      } else if (self->shared_->stopping) {
        self->close_now();
      } else {
        self->do_wait(true);
      }
    });
  }

  void shutdown() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

 private:
  const ServerOptions& opts() const { return shared_->options; }

  // The first byte of the next request: a new connection gets read_timeout, an idle keep-alive
  // one idle_timeout. The tcp_stream closes the socket when that expires.
  void do_wait(bool first) {
    if (buffer_.size() > 0) return do_read_header();
    stream_.expires_after(first ? opts().read_timeout : opts().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->on_wait(ec, n);
    });
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
    stream_.expires_never();
    timed_out_ = false;
    reading_ = true;
    timer_.expires_after(opts().read_timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || !self->reading_ || self->closed_) return;
      self->timed_out_ = true;
      self->stream_.cancel();
    });
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (closed_) return;
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request();
    const auto& req = parser_->get();
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      stream_.expires_after(opts().read_timeout);
      asio::async_write(stream_, asio::buffer(continue_100),
                        [self = shared_from_this()](error_code ec, std::size_t) {
                          if (self->closed_) return;
                          if (ec) return self->on_read_error(ec);
                          self->do_read_body();
                        });
      return;
    }
    do_read_body();
  }

  void do_read_body() {
    stream_.expires_never();
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
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
    if (auto refused = to_request(msg, static_cast<bool>(shared_->upgrade), req, upgrade))
      return write_response(std::move(*refused), false);
    req.remote = remote_;
    spdlog::debug("http: {} {} {}", remote_, req.method, req.target);
    if (upgrade) upgrade_request_ = std::move(msg);
    const bool queued = shared_->pool.submit([self = shared_from_this(), req = std::move(req), upgrade] {
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
    closed_ = true;
    start_ws_session(stream_.release_socket(), std::move(*upgrade_request_),
                     std::get<Upgrade>(std::move(out)), shared_, remote_);
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
    stream_.expires_after(opts().idle_timeout);
    bhttp::async_write(stream_, m, [self = shared_from_this(), keep_alive](error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close_now();
      self->res_.reset();
      if (!keep_alive || self->shared_->stopping) return self->linger_close();
      self->do_wait(false);
    });
  }

  // Half-closes, then reads and discards what the client still sends for a short while: closing
  // with unread data would reset the connection and could destroy the response in flight.
  void linger_close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    stream_.expires_after(std::min(opts().read_timeout, max_linger));
    do_drain();
  }

  void do_drain() {
    stream_.async_read_some(asio::buffer(drain_), [self = shared_from_this()](error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close_now();
      self->do_drain();
    });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    reading_ = false;
    timer_.cancel();
    stream_.close();
  }

  const std::string remote_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
  const bool busy_;
  bool registered_ = false;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::optional<RequestMessage> upgrade_request_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  std::array<char, 4096> drain_{};
  unsigned version_ = 11;
  bool head_ = false;
  bool keep_alive_ = false;
  bool reading_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
};

}  // namespace

std::string remote_text(const tcp::socket& socket) {
  error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

void start_http_session(tcp::socket socket, std::shared_ptr<Shared> shared) {
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
  std::make_shared<HttpSession>(std::move(socket), std::move(shared), busy)->run();
}

}  // namespace weir::http::detail
