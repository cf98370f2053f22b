// The broker connection settings mqtt_input and mqtt_output share, declared once for both specs.
#pragma once

#include <chrono>
#include <string>

#include "common/mqtt/client.hpp"
#include "common/websocket/bridge_config.hpp"  // ws::TlsConfig: cert, key, ca (the same three files)
#include "sdk/component.hpp"
#include "sdk/spec.hpp"

namespace weir::mqtt {

enum class ProtocolVersion { v311, v5 };

struct ConnectionConfig {
  std::string url;        // mqtt://host:port, mqtts://host:port
  std::string client_id;  // empty: weir-<flow>-<component>
  ProtocolVersion version = ProtocolVersion::v311;
  int qos = 1;
  bool clean_session = false;
  std::chrono::nanoseconds session_expiry = std::chrono::hours(24 * 7);  // MQTT 5 only
  std::string username;
  std::string password;
  ws::TlsConfig tls;
  std::chrono::nanoseconds keep_alive = std::chrono::seconds(30);
  std::chrono::nanoseconds reconnect_max = std::chrono::seconds(30);
  int max_inflight = 20;
};

// "weir-<flow>-<component>": stable across restarts (a persistent session is found by it), with
// what some brokers refuse in a client id replaced by '-'.
std::string default_client_id(const std::string& flow, const std::string& component);

// The client's options from the settings (the URL was checked by the lint). `subscriptions`
// stays empty.
ClientOptions client_options(const ConnectionConfig& c, const sdk::Context& ctx);

void lint_connection(const ConnectionConfig& c, sdk::Lint& lint);

// ---- template definition ----
template <class Config>
void add_connection_fields(sdk::ComponentSpec<Config>& spec, const std::string& qos_doc) {
  using sdk::field;
  using namespace std::chrono_literals;
  using C = ConnectionConfig;
  spec.field("url", static_cast<std::string Config::*>(&C::url),
             field()
                 .required()
                 .not_empty()
                 .doc("The broker: mqtt://host:port (default port 1883) or mqtts://host:port (TLS, default "
                      "8883).")
                 .example("mqtt://127.0.0.1:1883"))
      .field(
          "client_id", static_cast<std::string Config::*>(&C::client_id),
          field().doc("The MQTT client identifier; the broker keeps a persistent session under it. Default "
                      "`weir-<flow>-<component>`. Two clients with one id take the session from each other."))
      .field("version", static_cast<ProtocolVersion Config::*>(&C::version),
             field()
                 .doc("The MQTT protocol version.")
                 .option("3.1.1", ProtocolVersion::v311, "MQTT 3.1.1 (protocol level 4).")
                 .option("5", ProtocolVersion::v5, "MQTT 5.0: session expiry and receive maximum are sent."))
      .field("qos", static_cast<int Config::*>(&C::qos), field().range(0, 2).doc(qos_doc))
      .field("clean_session", static_cast<bool Config::*>(&C::clean_session),
             field().doc(
                 "Start a new session at each connection. The default (false) keeps a persistent session: "
                 "the broker holds what was not acknowledged while the engine is away."))
      .field(
          "session_expiry", static_cast<std::chrono::nanoseconds Config::*>(&C::session_expiry),
          field()
              .duration_range(0s, std::chrono::seconds(0xFFFFFFFEu))
              .advanced()
              .doc("MQTT 5, persistent sessions: how long the broker keeps the session after a disconnect."))
      .field("username", static_cast<std::string Config::*>(&C::username),
             field().doc("User name sent in CONNECT.").example("${MQTT_USER}"))
      .field("password", static_cast<std::string Config::*>(&C::password),
             field().secret().doc(
                 "Password sent in CONNECT (3.1.1: only with `username`); set it from the environment: "
                 "\"${MQTT_PASSWORD}\"."))
      .field("tls", static_cast<ws::TlsConfig Config::*>(&C::tls),
             field().doc(
                 "mqtts:// URLs: `ca` verifies the broker (else the system's CAs); `cert` and `key` are a "
                 "client certificate."))
      .field(
          "keep_alive", static_cast<std::chrono::nanoseconds Config::*>(&C::keep_alive),
          field().duration_range(1s, 18h).doc(
              "A PINGREQ goes out when nothing was sent for half of it; a broker silent for 1.5 x keep_alive "
              "is taken as gone and the connection is made again."))
      .field("reconnect_max", static_cast<std::chrono::nanoseconds Config::*>(&C::reconnect_max),
             field().duration_range(100ms, 1h).advanced().doc(
                 "Longest wait between connection attempts (backoff from 100 ms, x2, +-25% jitter)."))
      .field(
          "max_inflight", static_cast<int Config::*>(&C::max_inflight),
          field().range(1, 65535).advanced().doc(
              "QoS 1 and 2: most messages on their way and not yet acknowledged. MQTT 5: the receive maximum "
              "sent to the broker, and a broker's smaller one wins. MQTT 3.1.1 cannot learn the broker's "
              "limit: "
              "keep it at or below the broker's (mosquitto's max_inflight_messages, 20 by default; mosquitto "
              "2.0.11 confirms and then loses QoS 2 messages a client sends beyond it)."))
      .lint([](const Config& c, sdk::Lint& lint) { lint_connection(c, lint); });
}

}  // namespace weir::mqtt
