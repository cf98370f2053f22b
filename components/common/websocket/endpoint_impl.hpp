// Internal: what the server and the client endpoints share — the io thread, the connection
// table, heartbeat, send/close/post/after and a bounded stop(). C++17 (websocketpp).
//
// Threading: everything below runs on the io thread except start(), stop() and the posting
// halves of send/close/post/after. Members are therefore unguarded; the io thread owns them
// from start() to the join in stop().
#pragma once

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "common/websocket/link.hpp"
#include "common/websocket/tls_context.hpp"
#include "common/websocket/wspp_config.hpp"

namespace weir::ws::detail {

// websocketpp 0.8.2's _htonll (every frame with a 64-bit length, and _ntohll on receive) sets a
// function-local static on first use without synchronization, so two links taking their first
// large frame at once race on it (ThreadSanitizer reported it in component_websocket_input).
// Setting it once here, before any endpoint's io thread starts, orders it before every use.
inline void order_websocketpp_statics() {
  static std::once_flag once;
  std::call_once(once, [] { (void)websocketpp::lib::net::_htonll(0); });
}

using Clock = std::chrono::steady_clock;
using Hdl = websocketpp::connection_hdl;

template <class Config, class WsEndpoint>
class EndpointBase : public Endpoint {
 public:
  using Connection = typename WsEndpoint::connection_type;
  using ConnectionPtr = typename WsEndpoint::connection_ptr;
  using MessagePtr = typename WsEndpoint::message_ptr;

  EndpointBase(EndpointOptions options, Handlers handlers)
      : options_(std::move(options)), handlers_(std::move(handlers)) {
    order_websocketpp_statics();
    ws_.get_elog().set_log(options_.log);
    websocketpp::lib::error_code ec;
    ws_.init_asio(&ioc_, ec);  // fails only when called twice
    ws_.set_max_message_size(options_.max_frame_size);
    ws_.set_open_handshake_timeout(static_cast<long>(options_.open_timeout.count()));
    ws_.set_close_handshake_timeout(close_handshake_timeout_ms);
    // Frames go out as they are sent: without TCP_NODELAY a small frame can wait for the ACK of
    // the one before (Nagle), which at a steady low rate costs milliseconds per record.
    ws_.set_tcp_post_init_handler([this](Hdl h) {
      websocketpp::lib::error_code ec;
      if (auto con = ws_.get_con_from_hdl(h, ec)) {
        websocketpp::lib::asio::error_code aec;
        con->get_raw_socket().set_option(websocketpp::lib::asio::ip::tcp::no_delay(true), aec);
      }
    });
    ws_.set_open_handler([this](Hdl h) { handle_open(h); });
    ws_.set_close_handler([this](Hdl h) { handle_close(h); });
    ws_.set_fail_handler([this](Hdl h) { handle_fail(h); });
    ws_.set_message_handler([this](Hdl h, MessagePtr msg) { handle_message(h, msg); });
    ws_.set_ping_handler([this](Hdl h, const std::string&) {
      touch_rx(h);
      return true;  // websocketpp answers with a pong
    });
    ws_.set_pong_handler([this](Hdl h, const std::string&) { touch_rx(h); });
    if constexpr (Config::tls) {
      ws_.set_tls_init_handler([this](const Hdl&) { return tls_ctx_; });
    }
  }

  bool start(std::string& error) final {
    if (started_) {
      error = "already started";
      return false;
    }
    if (!start_role(error)) return false;
    started_ = true;
    work_.emplace(ioc_.get_executor());
    schedule_heartbeat();
    thread_ = std::thread([this] {
      if (!options_.thread_name.empty())
        pthread_setname_np(pthread_self(), options_.thread_name.substr(0, 15).c_str());
      run_io();
    });
    return true;
  }

  void stop() final {
    if (!thread_.joinable()) return;
    boost::asio::post(ioc_, [this] { begin_stop(); });
    thread_.join();
  }

  void send_here(ConnId id, std::string_view payload, bool binary) final {
    Conn* c = find(id);
    if (c == nullptr) return;  // gone: on_close already told the owner
    websocketpp::lib::error_code ec;
    ws_.send(c->hdl, payload.data(), payload.size(),
             binary ? websocketpp::frame::opcode::binary : websocketpp::frame::opcode::text, ec);
    if (!ec) c->last_tx = Clock::now();
  }

  void send(ConnId id, std::string payload, bool binary) final {
    boost::asio::post(ioc_, [this, id, payload = std::move(payload), binary] {
      Conn* c = find(id);
      if (c == nullptr) return;  // gone: on_close already told the owner
      websocketpp::lib::error_code ec;
      ws_.send(c->hdl, payload,
               binary ? websocketpp::frame::opcode::binary : websocketpp::frame::opcode::text, ec);
      if (!ec) c->last_tx = Clock::now();
    });
  }

  void close(ConnId id, int code, const std::string& reason) final {
    boost::asio::post(ioc_, [this, id, code, reason] {
      Conn* c = find(id);
      if (c != nullptr && c->close_code == 0) request_close(*c, code, reason);
    });
  }

  void post(std::function<void()> fn) final {
    boost::asio::post(ioc_, [this, fn = std::move(fn)] { call("post", fn); });
  }

  void after(std::chrono::milliseconds d, std::function<void()> fn) final {
    boost::asio::post(ioc_, [this, d, fn = std::move(fn)]() mutable {
      if (stopping_) return;
      auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, d);
      after_timers_.insert(timer);
      timer->async_wait([this, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
        after_timers_.erase(timer);
        if (!ec && !stopping_) call("after", fn);
      });
    });
  }

  std::size_t buffered(ConnId id) const final {
    auto it = conns_.find(id);
    if (it == conns_.end()) return 0;
    auto con = std::static_pointer_cast<Connection>(it->second.hdl.lock());
    return con ? con->get_buffered_amount() : 0;
  }

  std::uint16_t port() const final { return port_.load(); }

 protected:
  struct Conn {
    Hdl hdl;
    bool open = false;  // false: accepted or dialing, not open yet
    Clock::time_point opened_at, last_rx, last_tx, last_ping;
    // Our own close request: reported when the peer never answers it (stalled peer).
    int close_code = 0;
    std::string close_reason;
  };

  // Role hooks. start_role runs on the caller's thread before the io thread starts.
  virtual bool start_role(std::string& error) = 0;
  virtual void stop_role() = 0;
  // An attempt ended before opening (client: a failed dial; server: a failed upgrade).
  virtual void role_failed(const ConnectionPtr& con) = 0;
  // A connection that had been open closed (after on_close).
  virtual void role_closed(const Conn& c) = 0;

  ConnId add_conn(const Hdl& h) {
    ConnId id = next_id_++;
    conns_[id].hdl = h;
    ids_[h] = id;
    return id;
  }

  // Accepted (server) or dialing (client) plus open connections.
  std::size_t conn_count() const { return conns_.size(); }

  Conn* find(ConnId id) {
    auto it = conns_.find(id);
    return it == conns_.end() || !it->second.open ? nullptr : &it->second;
  }

  ConnectionPtr connection(Hdl h) {
    websocketpp::lib::error_code ec;
    return ws_.get_con_from_hdl(h, ec);  // null when gone
  }

  template <class F, class... Args>
  void call(const char* what, const F& fn, Args&&... args) {
    if (!fn) return;
    // No exception may unwind through websocketpp or Asio.
    try {
      fn(std::forward<Args>(args)...);
    } catch (const std::exception& e) {
      options_.log.error("websocket: {} handler threw: {}", what, e.what());
    } catch (...) {
      options_.log.error("websocket: {} handler threw", what);
    }
  }

  // The HTTP status, websocketpp's error and the transport's own (TLS) error, as available.
  static std::string describe_failure(const ConnectionPtr& con) {
    std::string reason;
    auto append = [&reason](const std::string& part) {
      if (part.empty() || reason.find(part) != std::string::npos) return;
      reason += reason.empty() ? part : ": " + part;
    };
    if (int status = con->get_response_code(); status != 0) {
      append("HTTP " + std::to_string(status) + " " + con->get_response_msg());
    }
    if (auto ec = con->get_ec()) append(ec.message());
    std::string tls_cause;
    if constexpr (Config::tls) tls_cause = handshake_failure(con->get_socket().native_handle());
    if (!tls_cause.empty()) {
      append(tls_cause);  // the transport error is then only the teardown's ("shutdown while in init")
    } else if (auto tec = con->get_transport_ec()) {
      append(tec.message());
    }
    return reason.empty() ? "connection failed" : reason;
  }

  EndpointOptions options_;
  Handlers handlers_;
  // Declared before ws_ so that websocketpp's acceptor and sockets go before the io_context.
  boost::asio::io_context ioc_;
  WsEndpoint ws_;
  SslContextPtr tls_ctx_;  // set by start_role for TLS endpoints
  std::atomic<std::uint16_t> port_{0};
  bool stopping_ = false;

 private:
  void run_io() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        options_.log.error("websocket: io thread: {}", e.what());
      }
    }
  }

  std::pair<ConnId, Conn*> find_hdl(const Hdl& h) {
    auto it = ids_.find(h);
    if (it == ids_.end()) return {0, nullptr};
    return {it->second, &conns_.at(it->second)};
  }

  // Forgets the connection; returns its state (hdl expired when unknown).
  std::pair<ConnId, Conn> take(const Hdl& h) {
    auto it = ids_.find(h);
    if (it == ids_.end()) return {0, Conn()};
    ConnId id = it->second;
    ids_.erase(it);
    auto cit = conns_.find(id);
    Conn c = std::move(cit->second);
    conns_.erase(cit);
    return {id, std::move(c)};
  }

  void request_close(Conn& c, int code, const std::string& reason) {
    websocketpp::lib::error_code ec;
    ws_.close(c.hdl, static_cast<websocketpp::close::status::value>(code), reason, ec);
    if (ec) {
      // An invalid code, or already closing: heartbeat keeps watching the connection.
      options_.log.debug("websocket: close {}: {}", code, ec.message());
      return;
    }
    c.close_code = code;
    c.close_reason = reason;
  }

  void handle_open(Hdl h) {
    auto [id, c] = find_hdl(h);
    ConnectionPtr con = connection(h);
    if (c == nullptr || !con) return;
    if (stopping_) {
      // Opened while stopping: the owner never hears of it.
      take(h);
      websocketpp::lib::error_code ec;
      ws_.close(h, websocketpp::close::status::going_away, "going away", ec);
      return;
    }
    c->open = true;
    c->opened_at = c->last_rx = c->last_tx = c->last_ping = Clock::now();
    // The response header, not get_subprotocol(): websocketpp 0.8.2 fills that on servers only.
    bool bridge = con->get_response_header("Sec-WebSocket-Protocol") == bridge_subprotocol;
    std::string peer = con->get_remote_endpoint();
    options_.log.debug("websocket: connection {} open with {} ({})", id, peer,
                       bridge ? bridge_subprotocol : "raw");
    call("on_open", handlers_.on_open, id, bridge, peer);
  }

  void handle_close(Hdl h) {
    auto [id, c] = take(h);
    if (id == 0) return;  // opened while stopping, never told
    ConnectionPtr con = connection(h);
    auto [code, reason] = con ? close_status(*con, c) : std::pair<int, std::string>(1006, "gone");
    options_.log.debug("websocket: connection {} closed: {} {}", id, code, reason);
    if (c.open) call("on_close", handlers_.on_close, id, code, reason);
    role_closed(c);
    if (stopping_ && std::none_of(conns_.begin(), conns_.end(), [](auto& e) { return e.second.open; })) {
      ioc_.stop();
    }
  }

  // The peer's close code when it sent one; else ours when we asked to close (the peer may never
  // have answered); else what websocketpp recorded (1006 with the error when the socket broke).
  static std::pair<int, std::string> close_status(const Connection& con, const Conn& c) {
    int remote = con.get_remote_close_code();
    if (remote != websocketpp::close::status::abnormal_close && remote != websocketpp::close::status::blank) {
      return {remote, con.get_remote_close_reason()};
    }
    if (c.close_code != 0) return {c.close_code, c.close_reason};
    int local = con.get_local_close_code();
    if (local != websocketpp::close::status::blank) return {local, con.get_local_close_reason()};
    return {websocketpp::close::status::abnormal_close, con.get_ec().message()};
  }

  void handle_fail(Hdl h) {
    take(h);
    if (ConnectionPtr con = connection(h)) role_failed(con);
  }

  void handle_message(Hdl h, const MessagePtr& msg) {
    auto [id, c] = find_hdl(h);
    if (c == nullptr) return;
    c->last_rx = Clock::now();
    bool binary = msg->get_opcode() == websocketpp::frame::opcode::binary;
    call("on_message", handlers_.on_message, id, std::move(msg->get_raw_payload()), binary);
  }

  void touch_rx(Hdl h) {
    if (Conn* c = find_hdl(h).second) c->last_rx = Clock::now();
  }

  // One timer for all connections, ticking at a quarter of the heartbeat: precise enough for
  // "idle for heartbeat" and cheaper than a timer per connection.
  void schedule_heartbeat() {
    if (options_.heartbeat.count() <= 0) return;
    heartbeat_timer_.expires_after(std::max(options_.heartbeat / 4, std::chrono::milliseconds(10)));
    heartbeat_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      check_liveness();
      schedule_heartbeat();
    });
  }

  void check_liveness() {
    auto now = Clock::now();
    for (auto& entry : conns_) {
      Conn& c = entry.second;
      if (!c.open || c.close_code != 0) continue;
      if (now - c.last_rx >= 3 * options_.heartbeat) {
        options_.log.debug("websocket: connection {} silent for 3 heartbeats", entry.first);
        request_close(c, websocketpp::close::status::going_away, "heartbeat");
      } else if (now - c.last_tx >= options_.heartbeat ||
                 (now - c.last_rx >= options_.heartbeat && now - c.last_ping >= options_.heartbeat)) {
        // Also when only we talk: a peer that never sends (a raw client fed a stream) must be
        // asked for a pong, or it would look dead after 3 heartbeats.
        websocketpp::lib::error_code ec;
        ws_.ping(c.hdl, "", ec);
        c.last_tx = c.last_ping = now;
      }
    }
  }

  // Closes everything and lets the io thread end once every open connection reported its close,
  // or after the close handshake timeout (plus the socket shutdown) when a peer does not answer.
  void begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    heartbeat_timer_.cancel();
    for (auto& t : after_timers_) t->cancel();
    after_timers_.clear();
    stop_role();
    bool any_open = false;
    for (auto& entry : conns_) {
      if (!entry.second.open) continue;
      any_open = true;
      if (entry.second.close_code == 0)
        request_close(entry.second, websocketpp::close::status::going_away, "going away");
    }
    work_.reset();
    if (!any_open) {
      ioc_.stop();
      return;
    }
    stop_timer_.expires_after(std::chrono::milliseconds(close_handshake_timeout_ms + 500));
    stop_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) force_stop();
    });
  }

  void force_stop() {
    for (auto& entry : conns_) {
      if (entry.second.open) {
        call("on_close", handlers_.on_close, entry.first, int(websocketpp::close::status::going_away),
             std::string("going away"));
      }
    }
    conns_.clear();
    ids_.clear();
    ioc_.stop();
  }

  boost::asio::steady_timer heartbeat_timer_{ioc_};
  boost::asio::steady_timer stop_timer_{ioc_};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::set<std::shared_ptr<boost::asio::steady_timer>> after_timers_;
  std::map<ConnId, Conn> conns_;
  std::map<Hdl, ConnId, std::owner_less<Hdl>> ids_;
  ConnId next_id_ = 1;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace weir::ws::detail
