// Internal: the listening endpoint (mode listen). The upgrade is checked in websocketpp's validate
// handler, before any frame: path, bearer token, client limit, subprotocol.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "common/websocket/endpoint_impl.hpp"
#include "common/websocket/endpoints.hpp"

namespace weir::ws::detail {

template <class Config>
class ServerEndpoint final : public EndpointBase<Config, websocketpp::server<Config>> {
  using Base = EndpointBase<Config, websocketpp::server<Config>>;
  using typename Base::Conn;
  using typename Base::ConnectionPtr;

 public:
  ServerEndpoint(EndpointOptions options, Handlers handlers) : Base(std::move(options), std::move(handlers)) {
    this->ws_.set_validate_handler([this](Hdl h) { return validate(h); });
  }
  ~ServerEndpoint() override { this->stop(); }

 private:
  bool start_role(std::string& error) override {
    const EndpointOptions& o = this->options_;
    if constexpr (Config::tls) {
      this->tls_ctx_ = make_server_context(o.tls_files, error);
      if (!this->tls_ctx_) return false;
    }
    std::string host, port;
    if (!split_host_port(o.listen, host, port)) {
      error = "listen: not host:port: " + o.listen;
      return false;
    }
    using boost::asio::ip::tcp;
    boost::system::error_code bec;
    tcp::resolver resolver(this->ioc_);
    auto found = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, bec);
    if (bec || found.empty()) {
      error = "listen " + o.listen + ": " + (bec ? bec.message() : "no address");
      return false;
    }
    tcp::endpoint ep = found.begin()->endpoint();
    // A server restarted on its port must not wait for the old connections' TIME_WAIT.
    this->ws_.set_reuse_addr(true);
    websocketpp::lib::error_code ec;
    this->ws_.listen(ep, ec);
    if (ec) {
      error = "listen " + o.listen + ": " + explain_bind_failure(ep);
      return false;
    }
    this->ws_.start_accept(ec);
    if (ec) {
      error = "listen " + o.listen + ": " + ec.message();
      return false;
    }
    this->port_ = this->ws_.get_local_endpoint(bec).port();
    return true;
  }

  // websocketpp reports a failed bind as "underlying transport error"; binding again says why
  // (address in use, permission denied...).
  std::string explain_bind_failure(const boost::asio::ip::tcp::endpoint& ep) {
    boost::asio::ip::tcp::acceptor probe(this->ioc_);
    boost::system::error_code bec;
    probe.open(ep.protocol(), bec);
    if (!bec) probe.set_option(boost::asio::socket_base::reuse_address(true), bec);
    if (!bec) probe.bind(ep, bec);
    if (!bec) probe.listen(boost::asio::socket_base::max_listen_connections, bec);
    return bec ? bec.message() : "cannot listen";
  }

  void stop_role() override {
    websocketpp::lib::error_code ec;
    this->ws_.stop_listening(ec);
  }

  bool validate(Hdl h) {
    ConnectionPtr con = this->connection(h);
    if (!con) return false;
    const EndpointOptions& o = this->options_;
    std::string peer = con->get_remote_endpoint();
    const std::string& resource = con->get_resource();
    std::string path = resource.substr(0, resource.find('?'));
    if (this->stopping_) return reject(*con, peer, 503, "stopping");
    if (path != o.path) return reject(*con, peer, 404, "unknown path " + path.substr(0, 200));
    if (!o.token.empty()) {
      const std::string& auth = con->get_request_header("Authorization");
      if (auth.empty()) return reject(*con, peer, 401, "no bearer token");
      if (!equal_constant_time(auth, "Bearer " + o.token))
        return reject(*con, peer, 401, "wrong bearer token");
    }
    if (this->conn_count() >= o.max_clients) {
      return reject(*con, peer, 503, "too many clients (max_clients " + std::to_string(o.max_clients) + ")");
    }
    const auto& offered = con->get_requested_subprotocols();
    if (std::find(offered.begin(), offered.end(), bridge_subprotocol) != offered.end()) {
      websocketpp::lib::error_code ec;
      con->select_subprotocol(bridge_subprotocol, ec);
    }
    // Counted from here, not from open: the 101 is not written yet and must count toward the limit.
    this->add_conn(h);
    return true;
  }

  // The reason goes to the owner and the debug log, never to the client, and never holds the token.
  bool reject(typename Base::Connection& con, const std::string& peer, int status,
              const std::string& reason) {
    con.set_status(static_cast<websocketpp::http::status_code::value>(status));
    if (status == 401) con.append_header("WWW-Authenticate", "Bearer");
    this->options_.log.debug("websocket: refused {}: HTTP {} {}", peer, status, reason);
    this->call("on_rejected", this->handlers_.on_rejected, peer, status, reason);
    return false;
  }

  void role_failed(const ConnectionPtr& con) override {
    // Refused in validate: told there already.
    if (con->get_ec() == websocketpp::error::make_error_code(websocketpp::error::rejected)) return;
    if (this->stopping_) return;
    std::string reason = Base::describe_failure(con);
    std::string peer = con->get_remote_endpoint();
    this->options_.log.debug("websocket: upgrade from {} failed: {}", peer, reason);
    // TLS and protocol failures have no HTTP status (0); a malformed upgrade may have one.
    this->call("on_rejected", this->handlers_.on_rejected, peer, int(con->get_response_code()), reason);
  }

  void role_closed(const Conn&) override {}
};

}  // namespace weir::ws::detail
