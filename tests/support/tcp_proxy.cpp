#include "support/tcp_proxy.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace weir::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunkSize = 64 * 1024;
// Read-ahead per direction: reading pauses while this many chunks wait to be written, so a
// stalled or delayed link pushes back on the sender instead of buffering without bound.
constexpr std::size_t kMaxQueuedChunks = 16;

struct Chunk {
  std::unique_ptr<char[]> data;
  std::size_t size = 0;
  Clock::time_point ready;
};

// One direction of a pair: bytes read from `src` are queued and written to `dst`.
struct Direction {
  Direction(tcp::socket& s, tcp::socket& d) : src(s), dst(d), timer(s.get_executor()) {}

  tcp::socket& src;
  tcp::socket& dst;
  asio::steady_timer timer;
  std::deque<Chunk> queue;
  std::vector<std::unique_ptr<char[]>> spare;  // recycled buffers: no allocation per chunk
  std::unique_ptr<char[]> read_buf;
  bool reading = false;
  bool writing = false;
  bool timer_armed = false;
  bool eof = false;   // src ended its stream
  bool shut = false;  // dst got our FIN after everything read was written
};

void abortive_close(tcp::socket& s) {
  boost::system::error_code ec;
  if (!s.is_open()) return;
  s.set_option(asio::socket_base::linger(true, 0), ec);
  s.close(ec);
}

// Every Pair field and every Impl field not marked atomic is touched only on the io thread.
struct Pair : std::enable_shared_from_this<Pair> {
  explicit Pair(tcp::socket c)
      : client(std::move(c)), upstream(client.get_executor()), up(client, upstream), down(upstream, client) {}

  tcp::socket client;
  tcp::socket upstream;
  Direction up;    // client -> upstream
  Direction down;  // upstream -> client
  bool established = false;
  bool closed = false;
};

}  // namespace

struct TcpProxy::Impl {
  Impl(std::string host, std::uint16_t target_port, std::uint16_t listen_port)
      : target_port_(target_port), acceptor_(io_), accept_retry_(io_) {
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    const auto results = resolver.resolve(host, "0", ec);
    if (ec || results.empty())
      throw std::runtime_error("tcp_proxy: cannot resolve '" + host + "': " + ec.message());
    for (const auto& r : results) target_addrs_.push_back(r.endpoint().address());

    const tcp::endpoint listen_ep(asio::ip::make_address_v4("127.0.0.1"), listen_port);
    acceptor_.open(listen_ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(listen_ep, ec);
    if (ec)
      throw std::runtime_error("tcp_proxy: cannot bind 127.0.0.1:" + std::to_string(listen_port) + ": " +
                               ec.message());
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();

    do_accept();
    thread_ = std::thread([this] { run_io(); });
  }

  ~Impl() {
    run_sync([this] {
      stopping_ = true;
      boost::system::error_code ec;
      acceptor_.close(ec);
      accept_retry_.cancel();
      abort_all();
    });
    guard_.reset();
    // Everything is closed, so run() returns once the cancelled handlers have run. Should some
    // work linger anyway, stop the loop rather than hang the test.
    if (io_done_.wait_for(std::chrono::seconds(2)) != std::future_status::ready) io_.stop();
    thread_.join();
  }

  void run_io() {
    io_thread_id_ = std::this_thread::get_id();
    for (;;) {
      try {
        io_.run();
        break;
      } catch (...) {
        // A handler must not take the proxy down; keep serving the other connections.
      }
    }
    io_done_promise_.set_value();
  }

  // Runs fn on the io thread and waits for it, so a state change is in force when the caller
  // continues.
  void run_sync(std::function<void()> fn) {
    if (std::this_thread::get_id() == io_thread_id_.load()) {
      fn();
      return;
    }
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    asio::post(io_, [fn = std::move(fn), done] {
      fn();
      done->set_value();
    });
    fut.wait_for(std::chrono::seconds(10));
  }

  void do_accept() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& ec, tcp::socket s) { on_accept(ec, std::move(s)); });
  }

  void on_accept(const boost::system::error_code& ec, tcp::socket s) {
    if (stopping_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE and the like: try again shortly instead of spinning.
      accept_retry_.expires_after(std::chrono::milliseconds(10));
      accept_retry_.async_wait([this](const boost::system::error_code& e) {
        if (!e && !stopping_) do_accept();
      });
      return;
    }
    accepted_.fetch_add(1);
    if (down_.load()) {
      abortive_close(s);
    } else {
      start_pair(std::move(s));
    }
    do_accept();
  }

  void start_pair(tcp::socket s) {
    auto pair = std::make_shared<Pair>(std::move(s));
    pairs_.insert(pair);
    std::vector<tcp::endpoint> eps;
    const std::uint16_t port = target_port_.load();
    for (const auto& a : target_addrs_) eps.emplace_back(a, port);
    asio::async_connect(pair->upstream, eps,
                        [this, pair](const boost::system::error_code& ec, const tcp::endpoint&) {
                          if (pair->closed) return;
                          if (ec || down_.load()) {
                            abort_pair(*pair);
                            return;
                          }
                          boost::system::error_code ignored;
                          pair->client.set_option(tcp::no_delay(true), ignored);
                          pair->upstream.set_option(tcp::no_delay(true), ignored);
                          pair->established = true;
                          active_.fetch_add(1);
                          start_read(pair, pair->up);
                          start_read(pair, pair->down);
                        });
  }

  void start_read(const std::shared_ptr<Pair>& pair, Direction& d) {
    if (pair->closed || d.eof || d.reading || d.queue.size() >= kMaxQueuedChunks) return;
    if (!d.read_buf) {
      if (d.spare.empty()) {
        d.read_buf = std::make_unique<char[]>(kChunkSize);
      } else {
        d.read_buf = std::move(d.spare.back());
        d.spare.pop_back();
      }
    }
    d.reading = true;
    d.src.async_read_some(asio::buffer(d.read_buf.get(), kChunkSize),
                          [this, pair, &d](const boost::system::error_code& ec, std::size_t n) {
                            d.reading = false;
                            if (pair->closed) return;
                            if (ec == asio::error::eof) {
                              d.eof = true;
                              pump_write(pair, d);
                              return;
                            }
                            if (ec) {
                              abort_pair(*pair);
                              return;
                            }
                            const auto delay = std::chrono::milliseconds(delay_ms_.load());
                            d.queue.push_back(Chunk{std::move(d.read_buf), n, Clock::now() + delay});
                            pump_write(pair, d);
                            start_read(pair, d);
                          });
  }

  void pump_write(const std::shared_ptr<Pair>& pair, Direction& d) {
    // A stalled link passes nothing on, not even the end of stream.
    if (pair->closed || d.writing || stalled_.load()) return;
    if (d.queue.empty()) {
      if (d.eof && !d.shut) {
        // Everything read has been written: pass the end of stream on.
        d.shut = true;
        boost::system::error_code ignored;
        d.dst.shutdown(tcp::socket::shutdown_send, ignored);
        if (pair->up.shut && pair->down.shut) close_pair(*pair);
      }
      return;
    }
    const Chunk& front = d.queue.front();
    if (front.ready > Clock::now()) {
      if (d.timer_armed) return;
      d.timer_armed = true;
      d.timer.expires_at(front.ready);
      d.timer.async_wait([this, pair, &d](const boost::system::error_code&) {
        d.timer_armed = false;
        pump_write(pair, d);
      });
      return;
    }
    d.writing = true;
    asio::async_write(d.dst, asio::buffer(front.data.get(), front.size),
                      [this, pair, &d](const boost::system::error_code& ec, std::size_t n) {
                        d.writing = false;
                        if (pair->closed) return;
                        if (ec) {
                          abort_pair(*pair);
                          return;
                        }
                        bytes_.fetch_add(n);
                        d.spare.push_back(std::move(d.queue.front().data));
                        d.queue.pop_front();
                        pump_write(pair, d);
                        start_read(pair, d);
                      });
  }

  void finish_pair(Pair& p) {
    p.closed = true;
    p.up.timer.cancel();
    p.down.timer.cancel();
    if (p.established) active_.fetch_sub(1);
    pairs_.erase(p.shared_from_this());
  }

  void close_pair(Pair& p) {
    if (p.closed) return;
    boost::system::error_code ignored;
    p.client.close(ignored);
    p.upstream.close(ignored);
    finish_pair(p);
  }

  void abort_pair(Pair& p) {
    if (p.closed) return;
    abortive_close(p.client);
    abortive_close(p.upstream);
    finish_pair(p);
  }

  void abort_all() {
    const auto pairs = pairs_;  // abort_pair erases from pairs_
    for (const auto& p : pairs) abort_pair(*p);
  }

  void kick_all() {
    const auto pairs = pairs_;
    for (const auto& p : pairs) {
      pump_write(p, p->up);
      pump_write(p, p->down);
    }
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::vector<asio::ip::address> target_addrs_;
  std::atomic<std::uint16_t> target_port_;
  std::uint16_t port_ = 0;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::unordered_set<std::shared_ptr<Pair>> pairs_;
  bool stopping_ = false;

  std::atomic<bool> down_{false};
  std::atomic<bool> stalled_{false};
  std::atomic<std::int64_t> delay_ms_{0};
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> active_{0};
  std::atomic<std::uint64_t> bytes_{0};

  std::atomic<std::thread::id> io_thread_id_{};
  std::promise<void> io_done_promise_;
  std::future<void> io_done_ = io_done_promise_.get_future();
  std::thread thread_;
};

TcpProxy::TcpProxy(std::string target_host, std::uint16_t target_port, std::uint16_t listen_port)
    : impl_(std::make_unique<Impl>(std::move(target_host), target_port, listen_port)) {}

TcpProxy::~TcpProxy() = default;

std::uint16_t TcpProxy::port() const {
  return impl_->port_;
}

void TcpProxy::set_target(std::uint16_t target_port) {
  impl_->target_port_.store(target_port);
}

void TcpProxy::cut() {
  impl_->run_sync([this] { impl_->abort_all(); });
}

void TcpProxy::set_down(bool down) {
  impl_->down_.store(down);
  if (down) impl_->run_sync([this] { impl_->abort_all(); });
}

void TcpProxy::set_stalled(bool stalled) {
  impl_->stalled_.store(stalled);
  if (!stalled) impl_->run_sync([this] { impl_->kick_all(); });
}

void TcpProxy::set_delay(std::chrono::milliseconds d) {
  impl_->delay_ms_.store(d.count());
}

std::size_t TcpProxy::accepted() const {
  return impl_->accepted_.load();
}
std::size_t TcpProxy::active() const {
  return impl_->active_.load();
}
std::uint64_t TcpProxy::bytes_forwarded() const {
  return impl_->bytes_.load();
}

}  // namespace weir::testing
