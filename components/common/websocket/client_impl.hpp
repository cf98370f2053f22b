// Internal: the dialing endpoint (mode connect). One connection at a time; after a failed attempt
// or a close it redials after a backoff that doubles per failure, with jitter so that many
// senders cut off together do not all come back in the same millisecond.
#pragma once

#include <random>

#include "common/websocket/endpoint_impl.hpp"
#include "common/websocket/endpoints.hpp"

namespace weir::ws::detail {

// A connection that stayed up this long was a success: the backoff starts over.
inline constexpr std::chrono::seconds stable_connection{5};

template <class Config>
class ClientEndpoint final : public EndpointBase<Config, websocketpp::client<Config>> {
  using Base = EndpointBase<Config, websocketpp::client<Config>>;
  using typename Base::Conn;
  using typename Base::ConnectionPtr;

 public:
  ClientEndpoint(EndpointOptions options, Handlers handlers)
      : Base(std::move(options), std::move(handlers)), rng_(std::random_device{}()) {
    backoff_ = this->options_.reconnect_min;
  }
  ~ClientEndpoint() override { this->stop(); }

 private:
  bool start_role(std::string& error) override {
    if constexpr (Config::tls) {
      // The same parser websocketpp dials with, so the verified name is the dialed one.
      websocketpp::uri uri(this->options_.url);
      if (!uri.get_valid()) {
        error = "url: not a ws:// or wss:// URL: " + this->options_.url;
        return false;
      }
      this->tls_ctx_ = make_client_context(this->options_.tls_files, uri.get_host(), error);
      if (!this->tls_ctx_) return false;
    }
    boost::asio::post(this->ioc_, [this] { dial(); });
    return true;
  }

  void stop_role() override { redial_timer_.cancel(); }

  void dial() {
    if (this->stopping_ || dialing_) return;
    const EndpointOptions& o = this->options_;
    websocketpp::lib::error_code ec;
    ConnectionPtr con = this->ws_.get_connection(o.url, ec);
    if (ec) {
      fail(ec.message());
      return;
    }
    if (o.offer_bridge) con->add_subprotocol(bridge_subprotocol, ec);
    if (!o.token.empty()) con->append_header("Authorization", "Bearer " + o.token);
    this->add_conn(con->get_handle());
    dialing_ = true;
    o.log.debug("websocket: dialing {}", o.url);
    this->ws_.connect(con);
  }

  void role_failed(const ConnectionPtr& con) override { fail(Base::describe_failure(con)); }

  void fail(const std::string& reason) {
    dialing_ = false;
    if (this->stopping_) return;
    this->options_.log.debug("websocket: dial {} failed: {}", this->options_.url, reason);
    this->call("on_connect_failed", this->handlers_.on_connect_failed, reason);
    schedule_redial();
  }

  void role_closed(const Conn& c) override {
    dialing_ = false;
    if (c.open && Clock::now() - c.opened_at >= stable_connection) backoff_ = this->options_.reconnect_min;
    schedule_redial();
  }

  void schedule_redial() {
    if (this->stopping_) return;
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(backoff_ * jitter(rng_));
    backoff_ = std::min(backoff_ * 2, this->options_.reconnect_max);
    this->options_.log.debug("websocket: redial in {} ms", delay.count());
    redial_timer_.expires_after(delay);
    redial_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) dial();
    });
  }

  boost::asio::steady_timer redial_timer_{this->ioc_};
  std::mt19937 rng_;
  std::chrono::milliseconds backoff_{0};
  bool dialing_ = false;  // an attempt or a connection exists: never two at a time
};

}  // namespace weir::ws::detail
