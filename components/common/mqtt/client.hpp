// A connection to one MQTT broker that keeps itself up: it connects (TCP, or TLS), sends
// CONNECT and its SUBSCRIBE, keeps the link alive with PINGREQ, and when the link drops it
// reconnects with exponential backoff and jitter, logging once per transition (not per attempt).
//
// It holds no message state: what to acknowledge and what to send again after a reconnect is
// the component's (mqtt_input acks only what the flow stored; mqtt_output resends what the
// broker never confirmed). Every connection gets a number; a packet sent for a connection that
// is gone is dropped, so an ack never lands on a session it does not belong to by accident.
//
// Threads: one I/O thread of its own runs every handler; handlers must not block. send() and
// the other public calls may come from any thread. Asio stays in client.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/mqtt/packet.hpp"
#include "sdk/log.hpp"

namespace weir::mqtt {

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  bool tls = false;
  std::string ca_file;    // TLS: the broker's certificate must chain to it (else the system's CAs)
  std::string cert_file;  // TLS: a client certificate to present (with key_file)
  std::string key_file;
  Connect connect;  // version, client id, session, keep-alive, credentials, will
  std::vector<std::pair<std::string, std::uint8_t>> subscriptions;  // sent after each CONNACK
  // These subscriptions were made under this client id before: a kept session (CONNACK session
  // present) already has them, and no SUBSCRIBE is sent.
  bool subscribed_before = false;
  std::chrono::milliseconds connect_timeout{10000};  // TCP + TLS + CONNACK
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{30000};
  // Larger received packets close the connection (MQTT 5 tells the broker, which then does not
  // send them); a PUBLISH up to it reaches the component, which sends one over the record limit
  // (1 MiB) to the error port.
  std::size_t max_packet = 16u << 20;
  sdk::Log log;
};

class Client {
 public:
  struct Handlers {
    // The broker accepted connection `conn` (its CONNACK), before any packet of it is handled.
    // `session_present`: the broker kept the session (persistent sessions): what it had not
    // seen acknowledged comes again.
    std::function<void(std::uint64_t conn, bool session_present, const ConnAck&)> connected;
    std::function<void(std::uint64_t conn)> subscribed;  // every subscription granted
    std::function<void(std::uint64_t conn)> disconnected;
    std::function<void(std::uint64_t conn, Publish&&)> publish;
    std::function<void(std::uint64_t conn, const Ack&)> ack;  // PUBACK, PUBREC, PUBREL, PUBCOMP
  };

  Client(ClientOptions options, Handlers handlers);
  ~Client();  // stop()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts the I/O thread and the first connection attempt. An error (a TLS file that does not
  // load) is returned at once; connection failures are retried, never returned.
  std::optional<std::string> start();
  // Sends DISCONNECT when connected (a graceful close: the broker drops the will), then closes
  // and joins the I/O thread. No handler runs after it returned.
  void stop();

  // Queues whole packets for connection `conn`; false (nothing sent) once that connection is
  // gone.
  bool send(std::uint64_t conn, std::string bytes);
  // Stops reading from the broker while true (backpressure: the broker holds what it has not
  // delivered), and reads again once false.
  void pause_reading(bool pause);

  // The live connection (CONNACK received: acknowledgements may go out), 0 when down.
  std::uint64_t connection() const { return conn_.load(); }
  // Connected and every subscription granted: what is published from now on arrives.
  bool ready() const { return ready_.load(); }
  std::uint64_t connects() const { return connects_.load(); }
  // Bytes queued for the socket and not yet handed to it (a QoS 0 publisher waits on it).
  std::size_t backlog() const { return backlog_.load(); }
  std::uint64_t disconnects() const { return disconnects_.load(); }
  const ClientOptions& options() const { return options_; }

  struct Impl;  // client.cpp

 private:
  ClientOptions options_;
  std::atomic<std::uint64_t> conn_{0};
  std::atomic<bool> ready_{false};
  std::atomic<std::size_t> backlog_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> disconnects_{0};
  std::shared_ptr<Impl> impl_;
};

// Parses "mqtt://host:port", "tcp://host:port", "mqtts://host:port", "ssl://host:port" (port
// defaults 1883 / 8883) into host, port and tls. An error text when it is none of them.
std::optional<std::string> parse_broker_url(const std::string& url, std::string& host, std::uint16_t& port,
                                            bool& tls);

}  // namespace weir::mqtt
