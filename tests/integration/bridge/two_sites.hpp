// Two sites on loopback for the bridge tests: site A (its own nats-server and engine, flow
// nats_input SRC → websocket_output) and a hub (its own nats-server and engine, flow
// websocket_input → nats_output OUT), with a fault-injecting TCP proxy on the link between them.
#pragma once

#include <memory>
#include <string>

#include "../engine/rig.hpp"
#include "support/free_port.hpp"
#include "support/tcp_proxy.hpp"

namespace weir::testing {

struct LinkOptions {
  std::string token = "s3cret-token";
  std::string site_a_token;  // when set, site A sends this instead (a wrong token)
  std::string hub_tls;       // "tls" object of the hub's websocket_input, JSON
  std::string site_a_tls;    // "tls" object of site A's websocket_output, JSON
  std::string hub_extra;     // more config keys for the hub's websocket_input, JSON members
  std::string a_settings = R"({"ack_wait": "5s"})";
  std::string hub_settings = "{}";
  std::string hub_store_dir;  // the hub's nats-server store (default: a temp dir)
  // The hub's sink, one component reading "from_sites": by default nats_output into OUT.
  std::string hub_sink =
      R"({ "id": "sink", "type": "nats_output", "inputs": ["from_sites"], "config": { "subject": "out.data" } })";
};

class TwoSites {
 public:
  explicit TwoSites(LinkOptions options = {});

  EngineRig& site_a() { return *a_; }
  EngineRig& hub() { return *hub_; }
  TcpProxy& proxy() { return *proxy_; }
  std::uint16_t hub_port() const { return hub_port_; }

  void start();  // both engines
  // Every record of SRC [0, n) exactly once in OUT with distinct message ids; with `ordered`,
  // also in source order. (After an engine is killed, the batches it had in flight come back
  // after ack_wait while later ones flow on, so order holds only without crashes.)
  void check_exactly_once(std::uint64_t n, bool ordered = true);
  std::string logs();

 private:
  LinkOptions options_;
  std::unique_ptr<EngineRig> a_, hub_;
  std::uint16_t hub_port_ = 0;
  std::unique_ptr<TcpProxy> proxy_;
};

}  // namespace weir::testing
