// The link settings both bridge components share (mode, addresses, TLS, token, limits), declared
// once and added to each component's spec.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/websocket/link.hpp"
#include "common/websocket/site_id.hpp"
#include "sdk/component.hpp"
#include "sdk/spec.hpp"

namespace weir::ws {

struct TlsConfig {
  std::string cert, key, ca;
  static sdk::ObjectSpec<TlsConfig> object_spec();
};

enum class Mode { listen, connect };

struct LinkConfig {
  Mode mode = Mode::connect;
  std::string listen = "0.0.0.0:8765";
  std::string path = "/";
  std::string url;
  std::string token;
  TlsConfig tls;
  sdk::ByteSize max_frame_size{1024 * 1024};
  int max_clients = 16;
  std::chrono::nanoseconds heartbeat = std::chrono::seconds(5);
  std::chrono::nanoseconds reconnect_max = std::chrono::seconds(30);
  std::string site;
  int window = 32;
};

// Adds the LinkConfig fields (Config derives from LinkConfig) and their checks to a spec.
// `role` is "send" or "receive", for the docs.
template <class Config>
void add_link_fields(sdk::ComponentSpec<Config>& spec, const char* role);

// The endpoint options for a component (relative certificate paths inside the data dir).
EndpointOptions endpoint_options(const LinkConfig& c, const sdk::Context& ctx);
void lint_link(const LinkConfig& c, sdk::Lint& lint);

// Log lines and counters of one link, shared by both components: link up/down once per
// transition, rejected upgrades rate-limited.
struct LinkStats {
  std::atomic<bool> up{false};
  std::atomic<std::uint64_t> ups{0};  // link-up transitions
  std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0};
  std::atomic<std::uint64_t> messages_in{0}, messages_out{0};
  std::atomic<std::uint64_t> rejected{0};  // upgrades refused (token, path, limit)
  std::atomic<std::uint64_t> raw_clients{0};
  void append(std::vector<sdk::Metric>& out) const;
};

// connect mode: a peer that cannot be reached is logged once per outage, and again only when the
// kind of failure changes ("HTTP 401", "tls", "network"): network errors vary from one attempt
// to the next, but a hub that comes up and refuses the token must still be shown.
class DialFailures {
 public:
  static std::string kind(const std::string& reason);
  // True when this failure is to be logged.
  bool should_log(const std::string& reason);
  void link_up() { last_kind_.clear(); }

 private:
  std::string last_kind_;
};

// The raw clients of a listening component (io thread only): the set, the raw_clients gauge and
// one log line per client that joins or leaves.
class RawClients {
 public:
  RawClients(LinkStats& stats, sdk::Log log) : stats_(stats), log_(std::move(log)) {}
  void add(ConnId c, const std::string& peer);
  bool remove(ConnId c);  // false when c is not a raw client
  bool contains(ConnId c) const { return clients_.count(c) != 0; }
  const std::set<ConnId>& all() const { return clients_; }

 private:
  LinkStats& stats_;
  sdk::Log log_;
  std::set<ConnId> clients_;
};

// This site's name (see site_id.hpp): `site`, else the one kept in the engine's data dir. An
// error tells the user to set `site`.
sdk::Status resolve_site(const LinkConfig& c, const sdk::Context& ctx, SiteIdentity& out);

// Creates and starts the component's endpoint with `h`, adding the handler for refused upgrades
// (counted in `stats`, logged at most every 10 s) and logging where it listens or dials, and as
// which site (`site`, when resolved) and where that name came from.
sdk::Status start_endpoint(const LinkConfig& c, const sdk::Context& ctx, const SiteIdentity* site, Handlers h,
                           LinkStats& stats, std::unique_ptr<Endpoint>& out);

// ---- template definition ----
template <class Config>
void add_link_fields(sdk::ComponentSpec<Config>& spec, const char* role) {
  using sdk::field;
  using namespace std::chrono_literals;
  using L = LinkConfig;
  const std::string r = role;
  spec.field("mode", static_cast<Mode Config::*>(&L::mode),
             field()
                 .required()
                 .doc("Who opens the connection. Either side may listen: the site behind NAT dials out.")
                 .option("listen", Mode::listen, "Accept connections on `listen` at `path`.")
                 .option("connect", Mode::connect, "Dial `url` and keep redialing with backoff."))
      .field("listen", static_cast<std::string Config::*>(&L::listen),
             field().doc("listen mode: address and port to accept on (host:port).").example("0.0.0.0:8765"))
      .field("path", static_cast<std::string Config::*>(&L::path),
             field().doc("listen mode: the URL path served; other paths get HTTP 404."))
      .field("url", static_cast<std::string Config::*>(&L::url),
             field()
                 .doc("connect mode: ws://host:port/path or wss://host:port/path.")
                 .example("wss://hub.example.net:8765/"))
      .field("token", static_cast<std::string Config::*>(&L::token),
             field()
                 .secret()
                 .doc("Bearer token. listen: a client without it gets HTTP 401; connect: sent "
                      "with the upgrade. Set it from the environment: \"${BRIDGE_TOKEN}\".")
                 .example("${BRIDGE_TOKEN}"))
      .field("tls", static_cast<TlsConfig Config::*>(&L::tls),
             field().doc("listen: `cert` and `key` serve wss; `ca` then requires client certificates "
                         "(mutual TLS). connect (wss url): `ca` verifies the server (else the system's "
                         "CAs); `cert` and `key` are the client certificate."))
      .field("max_frame_size", static_cast<sdk::ByteSize Config::*>(&L::max_frame_size),
             field()
                 .size_range(4096, 64ull * 1024 * 1024)
                 .doc("Largest message taken; a larger one closes the connection with code 1009."))
      .field("max_clients", static_cast<int Config::*>(&L::max_clients),
             field().range(1, 1024).advanced().doc("listen mode: more concurrent connections get HTTP 503."))
      .field("heartbeat", static_cast<std::chrono::nanoseconds Config::*>(&L::heartbeat),
             field()
                 .duration_range(100ms, 5min)
                 .doc("A ping goes out on a connection idle this long; one silent for 3 x heartbeat is "
                      "closed and the link counts as down."))
      .field("reconnect_max", static_cast<std::chrono::nanoseconds Config::*>(&L::reconnect_max),
             field().duration_range(100ms, 1h).advanced().doc(
                 "connect mode: longest wait between attempts (backoff from 100 ms, x2, +-20% jitter)."))
      .field("site", static_cast<std::string Config::*>(&L::site),
             field()
                 .doc("This site's name in the handshake and in logs; a websocket_input puts the sender's in "
                      "front of the ids of everything it receives, so replays are recognised only while it "
                      "stays the same. Unset: a name made once from the host name and a random suffix, kept "
                      "in `site_id` in the engine's data dir (it survives a re-created container; the "
                      "component does not start when the data dir is not writable). 1 to 64 of A-Z a-z "
                      "0-9 _ . : -")
                 .example("site-a"))
      .field("window", static_cast<int Config::*>(&L::window),
             field().range(1, 256).advanced().doc(
                 "Most data frames " + r + " and not yet acknowledged (the smaller of both sides wins)."))
      .lint([](const Config& c, sdk::Lint& lint) { lint_link(c, lint); });
}

}  // namespace weir::ws
