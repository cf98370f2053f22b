#include "common/mqtt/config.hpp"

#include <algorithm>

namespace weir::mqtt {

std::string default_client_id(const std::string& flow, const std::string& component) {
  std::string out = "weir-" + flow + "-" + component;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) c = '-';
  }
  return out;
}

ClientOptions client_options(const ConnectionConfig& c, const sdk::Context& ctx) {
  ClientOptions o;
  (void)parse_broker_url(c.url, o.host, o.port, o.tls);
  o.ca_file = c.tls.ca;
  o.cert_file = c.tls.cert;
  o.key_file = c.tls.key;
  o.connect.version = c.version == ProtocolVersion::v5 ? Version::v5 : Version::v311;
  o.connect.client_id = c.client_id.empty() ? default_client_id(ctx.flow, ctx.component) : c.client_id;
  o.connect.clean_start = c.clean_session;
  o.connect.keep_alive_s =
      static_cast<std::uint16_t>(std::chrono::duration_cast<std::chrono::seconds>(c.keep_alive).count());
  if (!c.username.empty()) o.connect.username = c.username;
  if (!c.password.empty()) o.connect.password = c.password;
  if (o.connect.version == Version::v5) {
    o.connect.session_expiry_s =
        c.clean_session ? 0
                        : static_cast<std::uint32_t>(
                              std::chrono::duration_cast<std::chrono::seconds>(c.session_expiry).count());
    o.connect.receive_maximum = static_cast<std::uint16_t>(c.max_inflight);
    o.connect.maximum_packet_size = static_cast<std::uint32_t>(o.max_packet);
  }
  o.backoff_max = std::chrono::duration_cast<std::chrono::milliseconds>(c.reconnect_max);
  o.log = ctx.log;
  return o;
}

void lint_connection(const ConnectionConfig& c, sdk::Lint& lint) {
  std::string host;
  std::uint16_t port = 0;
  bool tls = false;
  if (!c.url.empty()) {
    if (auto e = parse_broker_url(c.url, host, port, tls))
      lint.error("url", "invalid_value", *e, "e.g. \"mqtt://broker.local:1883\"");
    else if (!tls && (!c.tls.ca.empty() || !c.tls.cert.empty()))
      lint.warning("tls", "unused", "tls settings apply to mqtts:// URLs only");
  }
  if (c.tls.cert.empty() != c.tls.key.empty())
    lint.error("tls", "invalid_value", "a client certificate needs both tls.cert and tls.key");
  if (!c.password.empty() && c.username.empty() && c.version == ProtocolVersion::v311)
    lint.error("password", "invalid_value", "MQTT 3.1.1 sends a password only with a user name",
               "set `username`, or use version \"5\"");
  if (c.client_id.size() > 65535)
    lint.error("client_id", "out_of_range", "a client id is at most 65535 bytes");
  if (c.clean_session && c.qos > 0)
    lint.warning(
        "clean_session", "at_most_once",
        "with a clean session the broker forgets what was not acknowledged when the connection drops: "
        "QoS " +
            std::to_string(c.qos) + " then holds only while connected",
        "leave clean_session false for nothing lost across reconnects and restarts");
  if (c.keep_alive > std::chrono::seconds(65535))
    lint.error("keep_alive", "out_of_range", "keep_alive is at most 65535 s (18h12m15s)");
}

}  // namespace weir::mqtt
