#pragma once

// Test support: a real Eclipse Mosquitto broker (Debian package `mosquitto`) on a free loopback
// port with a private temp dir for its config, persistence store, log and (with tls) a CA, server
// and client certificates made with the openssl CLI. A missing mosquitto is a test failure (an
// exception), never a skip. Like NatsServer (nats_harness.hpp).
//
// The broker is a child of the thread that start()s it and is SIGKILLed when that thread ends
// (PR_SET_PDEATHSIG, so a crashed test leaves no broker behind): start it from the test's own
// thread, not a short-lived helper thread.

#include "support/nats_harness.hpp"  // TempDir, wait_until

#include <sys/types.h>

#include <memory>
#include <string>

namespace weir::testing {

struct MosquittoOptions {
  // A TLS listener with a CA and a server certificate generated for the test (EC P-256,
  // CN=localhost, SAN DNS:localhost,IP:127.0.0.1).
  bool tls = false;
  // With tls: require_certificate true; client_cert_file() is signed by the same CA.
  bool require_client_cert = false;
  // Non-empty: allow_anonymous false and a password file (mosquitto_passwd -b -c) with this user.
  std::string username, password;
  int max_inflight = 20;  // max_inflight_messages
  // max_queued_messages: high, so a persistent session does not drop while a test's client is down.
  int max_queued = 1000000;
  // autosave_interval in seconds. Each save writes the whole store, and blocks the broker while it
  // does: with many messages queued, a long interval (and a graceful stop, which saves) keeps a
  // fast test fast.
  int autosave_interval = 1;
};

// $WEIR_MOSQUITTO, else mosquitto from PATH (or /usr/local/sbin, /usr/sbin, /sbin). Throws
// std::runtime_error "mosquitto not found: apt install mosquitto" when there is none.
std::string mosquitto_binary();

class Mosquitto {
 public:
  // Starts at once on a free port, with persistence in its temp dir. Throws std::runtime_error
  // (with the tail of the broker log) when the port does not accept a TCP connection in 10 s.
  explicit Mosquitto(MosquittoOptions o = {});
  ~Mosquitto();  // SIGTERM, SIGKILL after 5 s, reaped
  Mosquitto(const Mosquitto&) = delete;
  Mosquitto& operator=(const Mosquitto&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string url() const;               // "mqtt://127.0.0.1:<port>", with tls "mqtts://localhost:<port>"
  std::string ca_file() const;           // with tls
  std::string client_cert_file() const;  // with tls: signed by the CA
  std::string client_key_file() const;   // with tls
  std::string dir() const;               // the temp dir
  std::string log() const;               // the broker log's contents (and its stdout/stderr)
  pid_t pid() const { return pid_; }

  // Graceful: SIGTERM (mosquitto saves its persistence file) and wait until reaped. Throws when
  // it had to be SIGKILLed after 10 s (its store would not be the one a graceful stop leaves).
  void stop();
  void start();    // same port, same config and store; a no-op while running
  void restart();  // stop() + start()
  // SIGKILL, reaped. With autosave_interval 1 the broker loses at most about the last second of
  // its own state (sessions, queued messages) that it had not yet saved.
  void kill9();
  bool running();

 private:
  void setup_tls();
  void write_config();
  // SIGTERM, then SIGKILL after `grace_ms`; reaps. Returns false when it took the SIGKILL.
  bool terminate(int grace_ms);

  MosquittoOptions opt_;
  std::unique_ptr<TempDir> dir_;
  std::string binary_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace weir::testing
