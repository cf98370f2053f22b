#include "common/websocket/bridge_config.hpp"

#include <spdlog/spdlog.h>

#include "common/websocket/frame.hpp"
#include "common/websocket/rate_limit.hpp"
#include "sdk/base/quote.hpp"

namespace weir::ws {

sdk::ObjectSpec<TlsConfig> TlsConfig::object_spec() {
  using sdk::field;
  return sdk::ObjectSpec<TlsConfig>{}
      .field("cert", &TlsConfig::cert,
             field().doc("PEM certificate file (chain).").example("/etc/weir/tls/site.crt"))
      .field("key", &TlsConfig::key,
             field().doc("PEM private key file of `cert`.").example("/etc/weir/tls/site.key"))
      .field("ca", &TlsConfig::ca,
             field().doc("PEM file of the CA(s) the peer's certificate must chain to."));
}

namespace {
bool valid_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  auto port = s.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoul(port) <= 65535;
}
}  // namespace

void lint_link(const LinkConfig& c, sdk::Lint& lint) {
  if (c.mode == Mode::listen) {
    if (!valid_host_port(c.listen))
      lint.error("listen", "invalid_value", sdk::quote(c.listen) + " is not host:port",
                 "e.g. \"0.0.0.0:8765\"");
    if (c.path.empty() || c.path.front() != '/')
      lint.error("path", "invalid_value", "the path must start with '/'");
    if (!c.url.empty()) lint.warning("url", "unused", "url is used in connect mode only");
    if ((c.tls.cert.empty()) != (c.tls.key.empty()))
      lint.error("tls", "invalid_value", "serving wss needs both tls.cert and tls.key");
    if (!c.tls.ca.empty() && c.tls.cert.empty())
      lint.error("tls", "invalid_value", "tls.ca (client certificates) needs tls.cert and tls.key");
  } else {
    if (c.url.rfind("ws://", 0) != 0 && c.url.rfind("wss://", 0) != 0)
      lint.error("url", "invalid_value", "connect mode needs a ws:// or wss:// url",
                 "e.g. \"wss://hub.example.net:8765/\"");
    if ((c.tls.cert.empty()) != (c.tls.key.empty()))
      lint.error("tls", "invalid_value", "a client certificate needs both tls.cert and tls.key");
    if (c.url.rfind("ws://", 0) == 0 && (!c.tls.cert.empty() || !c.tls.ca.empty()))
      lint.warning("tls", "unused", "tls settings apply to wss:// urls only");
  }
  if (!c.site.empty() && !valid_site_name(c.site))
    lint.error("site", "invalid_value", "a site name is 1 to 64 of A-Z a-z 0-9 _ . : -");
}

sdk::Status resolve_site(const LinkConfig& c, const sdk::Context& ctx, SiteIdentity& out) {
  std::string error;
  if (!resolve_site(c.site, ctx.data_dir, out, error)) return sdk::Status::error(error);
  return sdk::Status::ok();
}

EndpointOptions endpoint_options(const LinkConfig& c, const sdk::Context& ctx) {
  EndpointOptions o;
  o.mode = c.mode == Mode::listen ? EndpointOptions::Mode::listen : EndpointOptions::Mode::connect;
  o.listen = c.listen;
  o.path = c.path;
  o.url = c.url;
  o.token = c.token;
  o.tls = c.mode == Mode::listen ? !c.tls.cert.empty() : c.url.rfind("wss://", 0) == 0;
  o.tls_files = {c.tls.cert, c.tls.key, c.tls.ca};
  // Relative certificate paths are inside the engine's data dir, like every other file.
  for (auto* f : {&o.tls_files.cert, &o.tls_files.key, &o.tls_files.ca})
    if (!f->empty() && f->front() != '/') *f = (ctx.data_dir / *f).string();
  o.max_frame_size = c.max_frame_size.bytes;
  o.max_clients = static_cast<std::size_t>(c.max_clients);
  o.heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(c.heartbeat);
  o.reconnect_max = std::chrono::duration_cast<std::chrono::milliseconds>(c.reconnect_max);
  o.log = ctx.log;
  o.thread_name = "ws:" + ctx.component;
  return o;
}

void LinkStats::append(std::vector<sdk::Metric>& out) const {
  out.push_back({"link_up", up.load() ? 1.0 : 0.0, true, "1 while the bridge link is up"});
  out.push_back({"link_ups", static_cast<double>(ups.load()), false, "times the link came up"});
  out.push_back({"bytes_in", static_cast<double>(bytes_in.load()), false, "bytes received"});
  out.push_back({"bytes_out", static_cast<double>(bytes_out.load()), false, "bytes sent"});
  out.push_back({"messages_in", static_cast<double>(messages_in.load()), false, "records received"});
  out.push_back({"messages_out", static_cast<double>(messages_out.load()), false, "records sent"});
  out.push_back({"upgrades_rejected", static_cast<double>(rejected.load()), false,
                 "connections refused at the upgrade (token, path, client limit)"});
  out.push_back({"raw_clients", static_cast<double>(raw_clients.load()), true, "raw clients connected"});
}

std::string DialFailures::kind(const std::string& reason) {
  if (reason.rfind("HTTP ", 0) == 0) return reason.substr(0, 8);
  for (const char* word : {"certificate", "TLS", "tls", "alert", "SSL", "ssl"})
    if (reason.find(word) != std::string::npos) return "tls";
  return "network";
}

bool DialFailures::should_log(const std::string& reason) {
  auto k = kind(reason);
  if (k == last_kind_) return false;
  last_kind_ = std::move(k);
  return true;
}

void RawClients::add(ConnId c, const std::string& peer) {
  clients_.insert(c);
  stats_.raw_clients = clients_.size();
  log_.info("raw client {} connected ({} now)", peer, clients_.size());
}

bool RawClients::remove(ConnId c) {
  if (!clients_.erase(c)) return false;
  stats_.raw_clients = clients_.size();
  log_.info("raw client left ({} now)", clients_.size());
  return true;
}

sdk::Status start_endpoint(const LinkConfig& c, const sdk::Context& ctx, const SiteIdentity* site, Handlers h,
                           LinkStats& stats, std::unique_ptr<Endpoint>& out) {
  auto limit = std::make_shared<RateLimit>(std::chrono::seconds(10));
  h.on_rejected = [log = ctx.log, &stats, limit](const std::string& peer, int status,
                                                 const std::string& reason) {
    stats.rejected++;
    if (auto n = limit->allow())
      log.warn("refused a connection from {}: HTTP {} {}{}", peer, status, reason,
               RateLimit::suppressed_text(*n));
  };
  std::string error;
  out = Endpoint::create(endpoint_options(c, ctx), std::move(h), error);
  if (!out || !out->start(error)) {
    out.reset();
    return sdk::Status::error(error);
  }
  const std::string as = site ? " as site " + site->name + " (from " + site->origin + ")" : "";
  if (c.mode == Mode::listen)
    ctx.log.info("listening on {} (port {}{}){}", c.listen, out->port(), c.tls.cert.empty() ? "" : ", wss",
                 as);
  else
    ctx.log.info("connecting to {}{}", c.url, as);
  return sdk::Status::ok();
}

}  // namespace weir::ws
