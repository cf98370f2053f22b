#include "common/mqtt/client.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/url/parse.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "common/websocket/tls_context.hpp"

namespace weir::mqtt {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

std::optional<std::string> parse_broker_url(const std::string& url, std::string& host, std::uint16_t& port,
                                            bool& tls) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return "not a URL (" + u.error().message() + "); e.g. mqtt://broker:1883 or mqtts://broker:8883";
  const std::string scheme(u->scheme());
  if (scheme == "mqtt" || scheme == "tcp")
    tls = false;
  else if (scheme == "mqtts" || scheme == "ssl")
    tls = true;
  else
    return "scheme \"" + scheme + "\" is not mqtt://, mqtts://, tcp:// or ssl://";
  if (!u->has_authority() || u->host().empty()) return "no host in the URL";
  if (u->has_userinfo()) return "put credentials in `username` and `password`, not in the URL";
  if (!u->path().empty() && u->path() != "/") return "a broker URL has no path";
  if (u->has_query() || u->has_fragment()) return "a broker URL has no query or fragment";
  host = u->host_type() == boost::urls::host_type::ipv6 ? std::string(u->host_ipv6_address().to_string())
                                                        : std::string(u->host());
  if (u->has_port()) {
    if (u->port_number() == 0) return "port must be 1-65535";
    port = u->port_number();
  } else {
    port = tls ? 8883 : 1883;
  }
  return std::nullopt;
}

// The connection machinery, shared with the handlers in flight (they hold a weak or shared
// reference, so that stop() may end while Asio still unwinds).
struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  Impl(Client& owner, Handlers handlers)
      : owner(owner), options(owner.options_), handlers(std::move(handlers)) {}

  Client& owner;
  const ClientOptions& options;
  Handlers handlers;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::shared_ptr<ssl::context> tls;
  std::unique_ptr<ssl::stream<tcp::socket>> stream;  // TLS or not: plain uses next_layer()
  tcp::resolver resolver{io};
  asio::steady_timer deadline{io};  // connect timeout, then keep-alive checks
  asio::steady_timer retry{io};     // backoff between attempts
  std::string in;                   // received bytes not yet framed
  std::array<char, 16384> chunk{};
  std::deque<std::string> outbox;  // whole packets waiting for the socket
  std::string writing;             // what the current async_write sends
  bool write_busy = false;
  bool reading = false;
  bool paused = false;
  bool opened = false;  // TCP (and TLS) up: reads may start
  bool up = false;      // CONNACK (and SUBACK) seen
  bool stopping = false;
  std::uint64_t conn = 0;  // this attempt's number
  std::uint16_t sub_id = 0;
  Clock::time_point last_rx{}, last_tx{};
  std::chrono::milliseconds backoff{0};
  std::string last_failure;  // logged once per transition
  std::mt19937 rng{std::random_device{}()};
  std::thread thread;

  template <class F>
  void with_stream(F&& f) {
    if (options.tls)
      f(*stream);
    else
      f(stream->next_layer());
  }

  void begin() {
    work.emplace(io.get_executor());
    thread = std::thread([self = shared_from_this()] { self->io.run(); });
    asio::post(io, [self = shared_from_this()] { self->attempt(); });
  }

  void attempt() {
    if (stopping) return;
    ++conn;
    in.clear();
    drop_outbox();
    write_busy = reading = up = opened = false;
    stream = tls ? std::make_unique<ssl::stream<tcp::socket>>(io, *tls)
                 : std::make_unique<ssl::stream<tcp::socket>>(io, plain_context());
    arm_deadline(options.connect_timeout, "no CONNACK within the connect timeout");
    resolver.async_resolve(
        options.host, std::to_string(options.port),
        [self = shared_from_this(), c = conn](error_code ec, const tcp::resolver::results_type& r) {
          if (c != self->conn || self->stopping) return;
          if (ec) return self->fail("cannot resolve " + self->options.host + ": " + ec.message());
          self->dial(r);
        });
  }

  // An unused context for the plain case: ssl::stream needs one to exist.
  ssl::context& plain_context() {
    static ssl::context ctx(ssl::context::tls_client);
    return ctx;
  }

  void dial(const tcp::resolver::results_type& endpoints) {
    asio::async_connect(stream->next_layer(), endpoints,
                        [self = shared_from_this(), c = conn](error_code ec, const tcp::endpoint&) {
                          if (c != self->conn || self->stopping) return;
                          if (ec) return self->fail("cannot connect: " + ec.message());
                          error_code ignored;
                          self->stream->next_layer().set_option(tcp::no_delay(true), ignored);
                          if (self->options.tls)
                            self->handshake();
                          else
                            self->say_connect();
                        });
  }

  void handshake() {
    SSL_set_tlsext_host_name(stream->native_handle(), options.host.c_str());
    stream->async_handshake(ssl::stream_base::client, [self = shared_from_this(), c = conn](error_code ec) {
      if (c != self->conn || self->stopping) return;
      if (ec) {
        std::string why = ws::detail::handshake_failure(self->stream->native_handle());
        return self->fail("TLS handshake: " + (why.empty() ? ec.message() : why));
      }
      self->say_connect();
    });
  }

  void say_connect() {
    opened = true;
    std::string bytes;
    encode(bytes, options.connect);
    queue(std::move(bytes));
    read();
  }

  void arm_deadline(std::chrono::milliseconds d, std::string why) {
    deadline.expires_after(d);
    deadline.async_wait([self = shared_from_this(), c = conn, why = std::move(why)](error_code ec) {
      if (ec || c != self->conn || self->stopping || self->up) return;
      self->fail(why);
    });
  }

  // Keep-alive: a PINGREQ when nothing was sent for half the interval; the link is dead when
  // nothing arrived for 1.5 intervals (the broker answers every PINGREQ).
  void keep_alive() {
    // MQTT 5: a Server Keep Alive in the CONNACK replaces the client's own.
    const std::uint16_t seconds = connack.server_keep_alive.value_or(options.connect.keep_alive_s);
    if (seconds == 0) return;
    const auto interval = std::chrono::milliseconds(seconds * 1000LL);
    deadline.expires_after(interval / 4);
    deadline.async_wait([self = shared_from_this(), c = conn, interval](error_code ec) {
      if (ec || c != self->conn || self->stopping) return;
      const auto now = Clock::now();
      if (now - self->last_rx > interval * 3 / 2 && !self->paused)
        return self->fail("no answer from the broker for " + std::to_string(interval.count() * 3 / 2) +
                          " ms");
      // A PINGREQ when nothing went out, or nothing came in, for half the interval: a client that
      // only publishes QoS 0 hears nothing back otherwise.
      if (now - self->last_tx > interval / 2 || now - self->last_rx > interval / 2) {
        std::string ping;
        encode_pingreq(ping);
        self->queue(std::move(ping));
      }
      self->keep_alive();
    });
  }

  void queue(std::string bytes) {
    owner.backlog_.fetch_add(bytes.size());
    outbox.push_back(std::move(bytes));
    flush();
  }

  void flush() {
    if (write_busy || outbox.empty() || !stream) return;
    writing.clear();
    while (!outbox.empty() && writing.size() < (1u << 20)) {
      writing += outbox.front();
      outbox.pop_front();
    }
    owner.backlog_.fetch_sub(writing.size());
    write_busy = true;
    last_tx = Clock::now();
    with_stream([&](auto& s) {
      asio::async_write(s, asio::buffer(writing),
                        [self = shared_from_this(), c = conn](error_code ec, std::size_t) {
                          if (c != self->conn || self->stopping) return;
                          self->write_busy = false;
                          if (ec) return self->fail("write: " + ec.message());
                          self->flush();
                        });
    });
  }

  // While paused (the component's queue is full) the broker's packets wait, except before the
  // CONNACK: a connection must complete to be held at all.
  void read() {
    if (reading || !opened || (paused && connack_seen) || !stream) return;
    reading = true;
    with_stream([&](auto& s) {
      s.async_read_some(asio::buffer(chunk),
                        [self = shared_from_this(), c = conn](error_code ec, std::size_t n) {
                          if (c != self->conn || self->stopping) return;
                          self->reading = false;
                          if (ec)
                            return self->fail(ec == asio::error::eof ? "the broker closed the connection"
                                                                     : "read: " + ec.message());
                          self->last_rx = Clock::now();
                          self->quick_ack();
                          self->in.append(self->chunk.data(), n);
                          if (!self->consume()) return;
                          self->read();
                        });
    });
  }

  // Acknowledge at once what was read (Linux: the kernel otherwise delays the ACK up to 40 ms).
  // A broker that writes without TCP_NODELAY (mosquitto's default) holds its next small packet,
  // a PUBCOMP after a PUBREC, until that ACK: each QoS 2 exchange would wait 40 ms.
  void quick_ack() {
#ifdef TCP_QUICKACK
    const int one = 1;
    (void)::setsockopt(stream->next_layer().native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
  }

  // Frames and handles what arrived; false when the connection was failed.
  bool consume() {
    const auto v = options.connect.version;
    std::size_t used = 0;
    for (;;) {
      Frame f;
      const auto st = next_frame(std::string_view(in).substr(used), options.max_packet, f);
      if (st == FrameStatus::incomplete) break;
      if (st != FrameStatus::complete) {
        fail(st == FrameStatus::too_large
                 ? "the broker sent a packet over " + std::to_string(options.max_packet) + " bytes"
                 : "the broker sent a malformed packet");
        return false;
      }
      used += f.size;
      std::string error;
      auto p = decode(f, v, error);
      if (!p) {
        fail("protocol error: " + error);
        return false;
      }
      if (!handle(std::move(*p))) return false;
    }
    in.erase(0, used);
    return true;
  }

  bool handle(Packet&& p) {
    if (auto* a = std::get_if<ConnAck>(&p)) return on_connack(*a);
    if (!connack_seen) {
      fail("the broker sent a packet before CONNACK");
      return false;
    }
    if (auto* pub = std::get_if<Publish>(&p)) {
      if (handlers.publish) handlers.publish(conn, std::move(*pub));
    } else if (auto* ack = std::get_if<Ack>(&p)) {
      if (handlers.ack) handlers.ack(conn, *ack);
    } else if (auto* s = std::get_if<SubAck>(&p)) {
      return on_suback(*s);
    } else if (auto* d = std::get_if<Disconnect>(&p)) {
      fail("the broker disconnected: " + connack_text(d->reason, options.connect.version) +
           (d->reason_string.empty() ? "" : " (" + d->reason_string + ")"));
      return false;
    }
    return true;  // PINGRESP: last_rx is enough
  }

  bool connack_seen = false;
  ConnAck connack;

  bool on_connack(const ConnAck& a) {
    if (connack_seen) {
      fail("the broker sent a second CONNACK");
      return false;
    }
    connack_seen = true;
    if (a.code != 0) {
      fail("the broker refused the connection: " + connack_text(a.code, options.connect.version) +
           (a.reason_string.empty() ? "" : " (" + a.reason_string + ")"));
      return false;
    }
    connack = a;
    // From here on, acknowledgements may go out: a resumed session's messages come at once,
    // before the SUBACK, and the component learns whether its session was kept before any.
    owner.conn_.store(conn);
    if (handlers.connected) handlers.connected(conn, a.session_present, a);
    // A kept session keeps its subscriptions: subscribing again would make the broker send its
    // retained messages again (MQTT 3.8.4), to be stored twice.
    if (options.subscriptions.empty() || (a.session_present && options.subscribed_before))
      return established();
    Subscribe s;
    s.packet_id = sub_id = 1;
    s.filters = options.subscriptions;
    std::string bytes;
    encode(bytes, s, options.connect.version);
    queue(std::move(bytes));
    return true;
  }

  bool on_suback(const SubAck& s) {
    if (s.packet_id != sub_id || up) return true;  // not ours; ignore
    for (std::size_t i = 0; i < s.codes.size() && i < options.subscriptions.size(); ++i) {
      if (s.codes[i] >= 0x80) {
        fail("the broker refused the subscription to " + options.subscriptions[i].first + ": " +
             connack_text(s.codes[i], options.connect.version));
        return false;
      }
      if (s.codes[i] < options.subscriptions[i].second)
        options.log.warn("the broker granted QoS {} only for {} (asked {})", s.codes[i],
                         options.subscriptions[i].first, options.subscriptions[i].second);
    }
    return established();
  }

  bool established() {
    up = true;
    backoff = std::chrono::milliseconds(0);
    owner.ready_.store(true);
    owner.connects_.fetch_add(1);
    if (!last_failure.empty() || owner.connects_.load() == 1)
      options.log.info("connected to {}:{}{}{}", options.host, options.port,
                       connack.session_present ? ", session resumed" : "",
                       last_failure.empty() ? "" : " (after: " + last_failure + ")");
    last_failure.clear();
    keep_alive();
    if (handlers.subscribed && !options.subscriptions.empty()) handlers.subscribed(conn);
    return true;
  }

  void fail(const std::string& why) {
    if (stopping) return;
    const bool was_connected = connack_seen;
    const auto old = conn;
    close();
    owner.conn_.store(0);
    owner.ready_.store(false);
    if (was_connected) {
      owner.disconnects_.fetch_add(1);
      if (handlers.disconnected) handlers.disconnected(old);
    }
    backoff = backoff.count() == 0 ? options.backoff_min : std::min(options.backoff_max, backoff * 2);
    // Jitter: 75-125 % of the backoff, so that many clients of one broker do not come back at once.
    std::uniform_int_distribution<long long> jitter(backoff.count() * 3 / 4, backoff.count() * 5 / 4);
    const auto wait = std::chrono::milliseconds(jitter(rng));
    if (why != last_failure) {
      options.log.warn("{}:{}: {}; reconnecting (backoff up to {} ms)", options.host, options.port, why,
                       options.backoff_max.count());
      last_failure = why;
    } else {
      options.log.debug("{}:{}: {}; next attempt in {} ms", options.host, options.port, why, wait.count());
    }
    retry.expires_after(wait);
    retry.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->attempt();
    });
  }

  void close() {
    ++conn;  // every handler of the old connection sees a stale number
    up = connack_seen = false;
    error_code ignored;
    resolver.cancel();
    deadline.cancel();
    if (stream) {
      stream->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      stream->next_layer().close(ignored);
    }
    drop_outbox();
    write_busy = reading = opened = false;
  }

  void drop_outbox() {
    for (const auto& b : outbox) owner.backlog_.fetch_sub(b.size());
    outbox.clear();
  }

  void finish() {
    // A graceful DISCONNECT, written synchronously (the socket is ours alone on this thread):
    // the broker then drops the will and keeps a persistent session as it is.
    if (connack_seen && stream && !write_busy) {  // never in the middle of another packet
      std::string bytes;
      encode_disconnect(bytes, options.connect.version);
      error_code ignored;
      with_stream([&](auto& s) { asio::write(s, asio::buffer(bytes), ignored); });
    }
    stopping = true;
    close();
    retry.cancel();
    // No io.stop(): the handlers still queued run (and return: stopping), so none is left
    // holding this Impl, and run() ends once nothing is pending.
    work.reset();
  }
};

Client::Client(ClientOptions options, Handlers handlers)
    : options_(std::move(options)), impl_(std::make_shared<Impl>(*this, std::move(handlers))) {}

Client::~Client() {
  stop();
}

std::optional<std::string> Client::start() {
  if (options_.tls) {
    ws::TlsOptions t;
    t.ca = options_.ca_file;
    t.cert = options_.cert_file;
    t.key = options_.key_file;
    std::string error;
    impl_->tls = ws::detail::make_client_context(t, options_.host, error);
    if (!impl_->tls) return error;
  }
  impl_->begin();
  return std::nullopt;
}

void Client::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [impl = impl_] { impl->finish(); });
  impl_->thread.join();
  conn_.store(0);
  ready_.store(false);
}

bool Client::send(std::uint64_t conn, std::string bytes) {
  if (conn == 0 || conn != conn_.load()) return false;
  asio::post(impl_->io, [impl = impl_, conn, bytes = std::move(bytes)]() mutable {
    if (conn != impl->conn || !impl->connack_seen) return;
    impl->queue(std::move(bytes));
  });
  return true;
}

void Client::pause_reading(bool pause) {
  asio::post(impl_->io, [impl = impl_, pause] {
    impl->paused = pause;
    if (!pause) {
      impl->last_rx = Clock::now();  // the pause was ours, not the broker's silence
      if (impl->stream && impl->stream->next_layer().is_open()) impl->read();
    }
  });
}

}  // namespace weir::mqtt
