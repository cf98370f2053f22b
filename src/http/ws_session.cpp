#include "http/ws_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>
#include <mutex>

namespace weir::http::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Beast pings when nothing came for half the idle timeout and drops the client after the whole.
constexpr std::chrono::seconds ping_interval{20};
// What the client sends is read and ignored; this bounds what one message may make us buffer.
constexpr std::size_t max_client_message = 64 * 1024;
// The grace stop() gives a client to answer the close frame.
constexpr std::chrono::milliseconds stop_grace{1000};

class WsSession;

// The user's handle. The queue lives here, behind a mutex: send() is called from any thread and
// only ever takes the mutex and posts; the session drains the queue on its strand. It holds no
// executor: it may outlive the io_context, and reaches the strand only through a live session.
class Channel final : public WsChannel {
 public:
  Channel(std::size_t max_backlog, std::chrono::milliseconds close_grace, std::weak_ptr<WsSession> session)
      : max_backlog_(max_backlog), close_grace_(close_grace), session_(std::move(session)) {}

  bool send(std::string text) override;
  void close() override;
  bool closed() const override {
    std::lock_guard lock(mu_);
    return closed_;
  }
  std::uint64_t sent() const override { return sent_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const override { return dropped_.load(std::memory_order_relaxed); }

  // Session side, on its strand. The next message to write, also after close() (the queue is
  // flushed); false when none, and then no write is scheduled any more.
  bool next(std::string& out) {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      scheduled_ = false;
      return false;
    }
    out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }
  void written(std::size_t bytes) {
    std::lock_guard lock(mu_);
    backlog_ -= std::min(bytes, backlog_);
    sent_.fetch_add(1, std::memory_order_relaxed);
  }
  // No more send(); with `drop` the unsent messages go too. False when it was closed already.
  bool mark_closed(bool drop) {
    std::deque<std::string> unsent;
    std::lock_guard lock(mu_);
    if (drop) {
      unsent.swap(queue_);
      backlog_ = 0;
    }
    if (closed_) return false;
    closed_ = true;
    return true;
  }

 private:
  const std::size_t max_backlog_;
  const std::chrono::milliseconds close_grace_;
  const std::weak_ptr<WsSession> session_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  std::size_t backlog_ = 0;  // bytes queued plus the message being written
  bool scheduled_ = false;   // a write is running or posted
  bool closed_ = false;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

class WsSession final : public Session, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, beast::http::request<beast::http::string_body> request, Upgrade upgrade,
            std::shared_ptr<Shared> shared, std::string remote)
      : ws_(std::move(socket)),
        close_timer_(ws_.get_executor()),
        request_(std::move(request)),
        upgrade_(std::move(upgrade)),
        shared_(std::move(shared)),
        remote_(std::move(remote)) {}

  // Normally finish() did all of this. When the io_context is destroyed with this session still
  // pending it did not: the socket is gone all the same and on_close is owed.
  ~WsSession() override {
    if (channel_) channel_->mark_closed(true);
    if (registered_) shared_->remove(this);
    fire_on_close();
  }

  void run() {
    shared_->add(shared_from_this());
    registered_ = true;
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
  }

  void shutdown() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->start_close(stop_grace); });
  }

  template <class F>
  void post(F&& f) {
    asio::post(ws_.get_executor(), std::forward<F>(f));
  }

  // One write at a time; once closing, the queue is flushed and then the close frame sent.
  void do_write() {
    if (!opened_ || writing_ || close_sent_ || finished_) return;
    if (!channel_->next(out_)) {
      if (closing_) do_close();
      return;
    }
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(out_),
                    [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  // Flushes what is queued, then the closing handshake; the socket is closed after `grace`
  // whatever the client does.
  void start_close(std::chrono::milliseconds grace) {
    if (closing_ || finished_) return;
    closing_ = true;
    if (channel_) channel_->mark_closed(false);
    if (!opened_) return hard_close();
    close_timer_.expires_after(grace);
    close_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->hard_close();
    });
    do_write();
  }

 private:
  void do_accept() {
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = shared_->options.read_timeout;
    timeouts.idle_timeout = 2 * ping_interval;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "weir"); }));
    ws_.read_message_max(max_client_message);
    beast::get_lowest_layer(ws_).expires_never();
    // After add(): stop() either saw this session or set `stopping` before it was checked here.
    if (shared_->stopping) hard_close();
    ws_.async_accept(request_, [self = shared_from_this()](error_code ec) { self->on_accept(ec); });
  }

  void on_accept(error_code ec) {
    request_ = {};
    if (ec) {
      spdlog::debug("http: websocket handshake with {} failed: {}", remote_, ec.message());
      return finish();
    }
    if (closing_) return finish();
    opened_ = true;
    channel_ = std::make_shared<Channel>(shared_->options.ws_max_backlog_bytes, shared_->options.read_timeout,
                                         weak_from_this());
    do_read();
    if (upgrade_.on_open) {
      try {
        upgrade_.on_open(channel_);
      } catch (const std::exception& e) {
        spdlog::error("http: websocket on_open for {} failed: {}", remote_, e.what());
        start_close(shared_->options.read_timeout);
      } catch (...) {
        spdlog::error("http: websocket on_open for {} failed: unknown exception", remote_);
        start_close(shared_->options.read_timeout);
      }
    }
  }

  // What the client sends is consumed and ignored; control frames are answered by Beast. The
  // loop ends when the socket is gone, which is when the session finishes.
  void do_read() {
    ws_.async_read(in_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) {
        if (ec != websocket::error::closed && ec != asio::error::operation_aborted)
          spdlog::debug("http: websocket {} ended: {}", self->remote_, ec.message());
        return self->finish();
      }
      self->in_.clear();
      self->do_read();
    });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (finished_) return;
    if (ec) return hard_close();
    channel_->written(out_.size());
    out_.clear();
    do_write();
  }

  void do_close() {
    if (close_sent_ || finished_) return;
    close_sent_ = true;
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](error_code ec) {
      if (ec) self->hard_close();
    });
  }

  // Pending operations complete with an error; the read loop then finishes the session.
  void hard_close() { beast::get_lowest_layer(ws_).close(); }

  void finish() {
    if (finished_) return;
    finished_ = true;
    close_timer_.cancel();
    if (channel_) channel_->mark_closed(true);
    hard_close();
    fire_on_close();  // before remove(): stop() returns only after every on_close ran
    if (registered_) {
      registered_ = false;
      shared_->remove(this);
    }
  }

  void fire_on_close() {
    if (close_fired_) return;
    close_fired_ = true;
    if (!upgrade_.on_close) return;
    try {
      upgrade_.on_close();
    } catch (const std::exception& e) {
      spdlog::error("http: websocket on_close for {} failed: {}", remote_, e.what());
    } catch (...) {
      spdlog::error("http: websocket on_close for {} failed: unknown exception", remote_);
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer close_timer_;
  beast::http::request<beast::http::string_body> request_;
  Upgrade upgrade_;
  std::shared_ptr<Shared> shared_;
  const std::string remote_;
  std::shared_ptr<Channel> channel_;
  beast::flat_buffer in_;
  std::string out_;
  bool registered_ = false;
  bool opened_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  bool close_fired_ = false;
};

bool Channel::send(std::string text) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (text.size() > max_backlog_ - backlog_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    backlog_ += text.size();
    queue_.push_back(std::move(text));
    if (scheduled_) return true;
    scheduled_ = true;
  }
  if (auto s = session_.lock()) s->post([s] { s->do_write(); });
  return true;
}

void Channel::close() {
  if (!mark_closed(false)) return;
  if (auto s = session_.lock()) s->post([s, grace = close_grace_] { s->start_close(grace); });
}

}  // namespace

void start_ws_session(tcp::socket socket, beast::http::request<beast::http::string_body> request,
                      Upgrade upgrade, std::shared_ptr<Shared> shared, std::string remote) {
  std::make_shared<WsSession>(std::move(socket), std::move(request), std::move(upgrade), std::move(shared),
                              std::move(remote))
      ->run();
}

}  // namespace weir::http::detail
