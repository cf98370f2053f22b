#include "http/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>

#include "http/http_session.hpp"
#include "http/parse.hpp"
#include "http/shared.hpp"

namespace weir::http {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// How long an accept that failed for want of resources (descriptors, memory) waits to retry.
constexpr std::chrono::milliseconds accept_retry{100};
// stop() off the io_context waits at most this long for the connections to be gone.
constexpr std::chrono::milliseconds stop_wait{5000};

// The accept loop, on a strand of its own; shared with its pending handlers so it outlives
// the Server while they drain.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& io, std::shared_ptr<detail::Shared> shared)
      : io_(io),
        acceptor_(asio::make_strand(io)),
        retry_(acceptor_.get_executor()),
        shared_(std::move(shared)) {}

  bool open(const tcp::endpoint& ep, error_code& ec) {
    acceptor_.open(ep.protocol(), ec);
    // A restarted engine must not wait for its old connections' TIME_WAIT; on Linux this does
    // not let two listeners share the port.
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error_code ignored;
      acceptor_.close(ignored);
    }
    return !ec;
  }

  unsigned short port() const {
    error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  void run() {
    asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
  }

  void close(bool direct) {
    if (direct) return close_now();
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

 private:
  void close_now() {
    error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
  }

  void do_accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(asio::make_strand(io_),
                           [self = shared_from_this()](error_code ec, tcp::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec == asio::error::connection_aborted) {
      spdlog::debug("http: accept on {}: {}", shared_->options.listen, ec.message());
      return do_accept();
    }
    if (ec) {
      // Out of descriptors or memory: retrying at once would spin.
      spdlog::warn("http: accept on {} failed: {}", shared_->options.listen, ec.message());
      retry_.expires_after(accept_retry);
      retry_.async_wait([self = shared_from_this()](error_code e) {
        if (!e) self->do_accept();
      });
      return;
    }
    if (!shared_->stopping) detail::start_http_session(std::move(socket), shared_);
    do_accept();
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<detail::Shared> shared_;
};

}  // namespace

struct Server::Impl {
  Impl(asio::io_context& i, ServerOptions o, Handler h, UpgradeHandler u)
      : io(i), shared(std::make_shared<detail::Shared>(std::move(o), std::move(h), std::move(u))) {}

  asio::io_context& io;
  std::shared_ptr<detail::Shared> shared;
  std::shared_ptr<Listener> listener;
  std::mutex mu;  // start() and stop() may come from different threads
  unsigned short port = 0;
  bool started = false;
  bool stopped = false;
};

Server::Server(asio::io_context& io, ServerOptions options, Handler handler, UpgradeHandler upgrade)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(handler), std::move(upgrade))) {}

Server::~Server() {
  stop();
}

bool Server::start(std::string* error) {
  std::lock_guard lock(impl_->mu);
  const std::string& listen = impl_->shared->options.listen;
  auto fail = [&](std::string message) {
    if (error) *error = std::move(message);
    return false;
  };
  if (impl_->started || impl_->stopped) return fail(listen + ": the server was started already");
  if (impl_->shared->options.tls && impl_->shared->upgrade)
    return fail(listen + ": WebSocket upgrades are not served over TLS");
  std::string host, port;
  if (!detail::split_host_port(listen, host, port)) return fail(listen + ": not host:port");
  if (host.empty()) host = "0.0.0.0";

  error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto found =
      resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty())
    return fail(listen + ": " + (ec ? detail::lower_first(ec.message()) : "no address"));
  auto listener = std::make_shared<Listener>(impl_->io, impl_->shared);
  error_code first;
  bool bound = false;
  for (const auto& entry : found) {
    if (listener->open(entry.endpoint(), ec)) {
      bound = true;
      break;
    }
    if (!first) first = ec;
  }
  if (!bound) return fail(listen + ": " + detail::lower_first(first.message()));

  impl_->listener = listener;
  impl_->port = listener->port();
  impl_->started = true;
  impl_->shared->pool.start(impl_->shared->options.workers);
  listener->run();
  spdlog::info("http: listening on {} (port {}{})", listen, impl_->port,
               impl_->shared->options.tls ? ", TLS" : "");
  return true;
}

void Server::stop() {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (!impl_->started) return;
  auto& shared = *impl_->shared;
  shared.stopping = true;
  // Nobody runs a stopped io_context: closing the acceptor here races with no handler.
  impl_->listener->close(impl_->io.stopped());
  for (const auto& s : shared.live()) s->shutdown();
  shared.pool.stop();
  if (impl_->io.get_executor().running_in_this_thread() || impl_->io.stopped()) return;
  if (!shared.wait_empty(stop_wait)) {
    spdlog::warn("http: {} connections still open {} ms after stop", shared.count(), stop_wait.count());
  }
}

unsigned short Server::port() const {
  return impl_->port;
}

std::size_t Server::connections() const {
  return impl_->shared->count();
}

std::uint64_t Server::tls_handshake_failures() const {
  return impl_->shared->tls_failures.load();
}

}  // namespace weir::http
