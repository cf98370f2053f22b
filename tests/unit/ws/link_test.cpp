// The WebSocket link over loopback: one listening and one dialing endpoint per case, ports chosen
// by the kernel, certificates made by the openssl CLI in a fresh temp dir.
#include <doctest/doctest.h>
#include <stdlib.h>  // mkdtemp

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/websocket/link.hpp"
#include "support/test_pki.hpp"

using namespace std::chrono_literals;
using weir::testing::Pki;
using weir::ws::ConnId;
using weir::ws::Endpoint;
using weir::ws::EndpointOptions;
using weir::ws::Handlers;

namespace {

struct Opened {
  ConnId id;
  bool bridge;
};
struct Message {
  ConnId id;
  std::string payload;
  bool binary;
};
struct Closed {
  ConnId id;
  int code;
  std::string reason;
};
struct Rejected {
  int status;
  std::string reason;
};

// What one endpoint's handlers saw. Handlers run on the endpoint's io thread; the test waits on
// the condition variable for what it expects, with a generous deadline.
class Recorder {
 public:
  Handlers handlers() {
    Handlers h;
    h.on_open = [this](ConnId id, bool bridge, const std::string&) {
      add([&] { opens.push_back({id, bridge}); });
    };
    h.on_message = [this](ConnId id, std::string&& payload, bool binary) {
      add([&] { messages.push_back({id, std::move(payload), binary}); });
    };
    h.on_close = [this](ConnId id, int code, const std::string& reason) {
      add([&] { closes.push_back({id, code, reason}); });
    };
    h.on_connect_failed = [this](const std::string& reason) { add([&] { failures.push_back(reason); }); };
    h.on_rejected = [this](const std::string&, int status, const std::string& reason) {
      add([&] { rejections.push_back({status, reason}); });
    };
    return h;
  }

  template <class Pred>
  bool wait_until(Pred pred, std::chrono::milliseconds deadline = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return pred(*this); });
  }

  // Reads under the lock.
  template <class F>
  auto with(F f) {
    std::lock_guard lock(mu_);
    return f(*this);
  }

  std::vector<Opened> opens;
  std::vector<Message> messages;
  std::vector<Closed> closes;
  std::vector<std::string> failures;
  std::vector<Rejected> rejections;

 private:
  template <class F>
  void add(F f) {
    {
      std::lock_guard lock(mu_);
      f();
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
};

std::unique_ptr<Endpoint> start(const EndpointOptions& options, Recorder& rec) {
  std::string error;
  auto ep = Endpoint::create(options, rec.handlers(), error);
  REQUIRE_MESSAGE(ep, error);
  REQUIRE_MESSAGE(ep->start(error), error);
  return ep;
}

EndpointOptions server_options(std::string listen = "127.0.0.1:0") {
  EndpointOptions o;
  o.mode = EndpointOptions::Mode::listen;
  o.listen = std::move(listen);
  o.path = "/bridge";
  o.log = weir::sdk::Log("test", "server");
  return o;
}

EndpointOptions client_options(std::uint16_t port, const std::string& scheme = "ws",
                               const std::string& host = "127.0.0.1") {
  EndpointOptions o;
  o.mode = EndpointOptions::Mode::connect;
  o.url = scheme + "://" + host + ":" + std::to_string(port) + "/bridge";
  o.reconnect_min = 20ms;
  o.reconnect_max = 200ms;
  o.log = weir::sdk::Log("test", "client");
  return o;
}

}  // namespace

TEST_CASE("create: bad options are refused with every problem named") {
  std::string error;
  EndpointOptions o = server_options("nonsense");
  o.path = "bridge";
  CHECK_FALSE(Endpoint::create(o, {}, error));
  CHECK(error.find("listen:") != std::string::npos);
  CHECK(error.find("path:") != std::string::npos);

  o = server_options();
  o.tls = true;
  o.tls_files.cert = "/nonexistent/cert.pem";
  CHECK_FALSE(Endpoint::create(o, {}, error));
  CHECK(error.find("tls.cert: cannot read") != std::string::npos);
  CHECK(error.find("tls.key: required") != std::string::npos);

  o = client_options(1);
  o.url = "http://127.0.0.1:1/";
  CHECK_FALSE(Endpoint::create(o, {}, error));
  CHECK(error.find("url:") != std::string::npos);

  o = client_options(1);
  CHECK(Endpoint::create(o, {}, error));
}

TEST_CASE(
    "plain: bridge subprotocol, messages both ways, close on stop, redial to a server back on its port") {
  Recorder srec, crec;
  auto server = start(server_options(), srec);
  const std::uint16_t port = server->port();
  REQUIRE(port != 0);
  auto client = start(client_options(port), crec);

  REQUIRE(srec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  REQUIRE(crec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  CHECK(srec.with([](auto& r) { return r.opens[0].bridge; }));
  CHECK(crec.with([](auto& r) { return r.opens[0].bridge; }));

  client->send(crec.with([](auto& r) { return r.opens[0].id; }), std::string("\x00\x01hello", 7), true);
  REQUIRE(srec.wait_until([](auto& r) { return r.messages.size() == 1; }));
  srec.with([](auto& r) {
    CHECK(r.messages[0].binary);
    CHECK(r.messages[0].payload == std::string("\x00\x01hello", 7));
    return 0;
  });
  server->send(srec.with([](auto& r) { return r.opens[0].id; }), "{\"a\":1}", false);
  REQUIRE(crec.wait_until([](auto& r) { return r.messages.size() == 1; }));
  crec.with([](auto& r) {
    CHECK_FALSE(r.messages[0].binary);
    CHECK(r.messages[0].payload == "{\"a\":1}");
    return 0;
  });

  // A send to an unknown connection is a silent no-op.
  server->send(9999, "nobody", false);

  server->stop();
  CHECK(srec.with([](auto& r) { return r.closes.size(); }) == 1);
  REQUIRE(crec.wait_until([](auto& r) { return r.closes.size() == 1; }));
  CHECK(crec.with([](auto& r) { return r.closes[0].code; }) == 1001);
  // The client keeps dialing the dead port...
  REQUIRE(crec.wait_until([](auto& r) { return !r.failures.empty(); }));

  // ...and gets through once a server listens there again.
  Recorder srec2;
  auto server2 = start(server_options("127.0.0.1:" + std::to_string(port)), srec2);
  REQUIRE(srec2.wait_until([](auto& r) { return r.opens.size() == 1; }));
  REQUIRE(crec.wait_until([](auto& r) { return r.opens.size() == 2; }));
  CHECK(crec.with([](auto& r) { return r.opens[1].id != r.opens[0].id; }));

  client->stop();
  client->stop();  // idempotent
  REQUIRE(srec2.wait_until([](auto& r) { return r.closes.size() == 1; }));
}

TEST_CASE("token: a wrong bearer token gets HTTP 401 and never opens") {
  Recorder srec, crec;
  EndpointOptions so = server_options();
  so.token = "s3cret-token";
  auto server = start(so, srec);
  EndpointOptions co = client_options(server->port());
  co.token = "wrong-token";
  auto client = start(co, crec);

  REQUIRE(crec.wait_until([](auto& r) { return !r.failures.empty(); }));
  CHECK(crec.with([](auto& r) { return r.failures[0]; }).find("401") != std::string::npos);
  REQUIRE(srec.wait_until([](auto& r) { return !r.rejections.empty(); }));
  srec.with([](auto& r) {
    CHECK(r.rejections[0].status == 401);
    CHECK(r.rejections[0].reason.find("s3cret") == std::string::npos);
    CHECK(r.rejections[0].reason.find("wrong-token") == std::string::npos);
    return 0;
  });
  client->stop();
  CHECK(srec.with([](auto& r) { return r.opens.size(); }) == 0);
  CHECK(crec.with([](auto& r) { return r.opens.size(); }) == 0);

  // The right token opens.
  Recorder crec2;
  co.token = so.token;
  auto client2 = start(co, crec2);
  REQUIRE(crec2.wait_until([](auto& r) { return r.opens.size() == 1; }));
}

TEST_CASE("raw client: no subprotocol offered, the server sees bridge = false") {
  Recorder srec, crec;
  auto server = start(server_options(), srec);
  EndpointOptions co = client_options(server->port());
  co.offer_bridge = false;
  auto client = start(co, crec);
  REQUIRE(srec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  REQUIRE(crec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  CHECK_FALSE(srec.with([](auto& r) { return r.opens[0].bridge; }));
  CHECK_FALSE(crec.with([](auto& r) { return r.opens[0].bridge; }));
}

TEST_CASE("wrong path gets HTTP 404") {
  Recorder srec, crec;
  auto server = start(server_options(), srec);
  EndpointOptions co = client_options(server->port());
  co.url += "/elsewhere";
  auto client = start(co, crec);
  REQUIRE(crec.wait_until([](auto& r) { return !r.failures.empty(); }));
  CHECK(crec.with([](auto& r) { return r.failures[0]; }).find("404") != std::string::npos);
  REQUIRE(srec.wait_until([](auto& r) { return !r.rejections.empty(); }));
  CHECK(srec.with([](auto& r) { return r.rejections[0].status; }) == 404);
}

TEST_CASE("max_clients: one more client gets HTTP 503") {
  Recorder srec, crec, crec2;
  EndpointOptions so = server_options();
  so.max_clients = 1;
  auto server = start(so, srec);
  auto first = start(client_options(server->port()), crec);
  REQUIRE(crec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  auto second = start(client_options(server->port()), crec2);
  REQUIRE(crec2.wait_until([](auto& r) { return !r.failures.empty(); }));
  CHECK(crec2.with([](auto& r) { return r.failures[0]; }).find("503") != std::string::npos);
  REQUIRE(srec.wait_until([](auto& r) { return !r.rejections.empty(); }));
  CHECK(srec.with([](auto& r) { return r.rejections[0].status; }) == 503);

  // A place freed is taken by the one still dialing.
  first->stop();
  REQUIRE(crec2.wait_until([](auto& r) { return r.opens.size() == 1; }));
}

TEST_CASE("tls: wss with the right CA opens; with another CA the server is not trusted") {
  Pki pki;
  Recorder srec, crec;
  EndpointOptions so = server_options();
  so.tls = true;
  so.tls_files.cert = pki.path("server.pem");
  so.tls_files.key = pki.path("server.key");
  auto server = start(so, srec);

  EndpointOptions co = client_options(server->port(), "wss", "localhost");
  co.tls_files.ca = pki.path("ca.pem");
  auto client = start(co, crec);
  REQUIRE(crec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  client->send(crec.with([](auto& r) { return r.opens[0].id; }), "over tls", true);
  REQUIRE(srec.wait_until([](auto& r) { return r.messages.size() == 1; }));
  CHECK(srec.with([](auto& r) { return r.messages[0].payload; }) == "over tls");
  client->stop();
  REQUIRE(srec.wait_until([](auto& r) { return r.closes.size() == 1; }));

  Recorder crec2;
  co.tls_files.ca = pki.path("other_ca.pem");
  auto untrusting = start(co, crec2);
  REQUIRE(crec2.wait_until([](auto& r) { return !r.failures.empty(); }));
  std::string why = crec2.with([](auto& r) { return r.failures[0]; });
  MESSAGE("untrusted server: " << why);
  CHECK(why.find("certificate") != std::string::npos);
  untrusting->stop();
  CHECK(crec2.with([](auto& r) { return r.opens.size(); }) == 0);
}

TEST_CASE("mutual tls: a client without a certificate is refused, one signed by the CA opens") {
  Pki pki;
  Recorder srec, crec;
  EndpointOptions so = server_options();
  so.tls = true;
  so.tls_files.cert = pki.path("server.pem");
  so.tls_files.key = pki.path("server.key");
  so.tls_files.ca = pki.path("ca.pem");
  auto server = start(so, srec);

  EndpointOptions co = client_options(server->port(), "wss");
  co.tls_files.ca = pki.path("ca.pem");
  auto anonymous = start(co, crec);
  REQUIRE(crec.wait_until([](auto& r) { return !r.failures.empty(); }));
  REQUIRE(srec.wait_until([](auto& r) { return !r.rejections.empty(); }));
  CHECK(srec.with([](auto& r) { return r.rejections[0].status; }) == 0);
  MESSAGE("client without certificate: " << crec.with([](auto& r) { return r.failures[0]; }));
  MESSAGE("server saw: " << srec.with([](auto& r) { return r.rejections[0].reason; }));
  anonymous->stop();
  CHECK(crec.with([](auto& r) { return r.opens.size(); }) == 0);
  CHECK(srec.with([](auto& r) { return r.opens.size(); }) == 0);

  Recorder crec2;
  co.tls_files.cert = pki.path("client.pem");
  co.tls_files.key = pki.path("client.key");
  auto client = start(co, crec2);
  REQUIRE(crec2.wait_until([](auto& r) { return r.opens.size() == 1; }));
  REQUIRE(srec.wait_until([](auto& r) { return r.opens.size() == 1; }));
}

TEST_CASE("max_frame_size: a larger message closes the connection with 1009") {
  Recorder srec, crec;
  EndpointOptions so = server_options();
  so.max_frame_size = 1024;
  auto server = start(so, srec);
  auto client = start(client_options(server->port()), crec);
  REQUIRE(crec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  ConnId id = crec.with([](auto& r) { return r.opens[0].id; });
  client->send(id, std::string(1000, 'a'), true);  // fits
  REQUIRE(srec.wait_until([](auto& r) { return r.messages.size() == 1; }));
  client->send(id, std::string(4096, 'b'), true);
  REQUIRE(crec.wait_until([](auto& r) { return !r.closes.empty(); }));
  CHECK(crec.with([](auto& r) { return r.closes[0].code; }) == 1009);
  REQUIRE(srec.wait_until([](auto& r) { return !r.closes.empty(); }));
  CHECK(srec.with([](auto& r) { return r.closes[0].code; }) == 1009);
  CHECK(srec.with([](auto& r) { return r.messages.size(); }) == 1);
}

TEST_CASE("heartbeat: pings keep a silent connection up; a stalled peer is closed") {
  Recorder srec, crec;
  EndpointOptions so = server_options();
  so.heartbeat = 100ms;
  auto server = start(so, srec);
  EndpointOptions co = client_options(server->port());
  co.heartbeat = 100ms;
  auto client = start(co, crec);
  REQUIRE(crec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  REQUIRE(srec.wait_until([](auto& r) { return r.opens.size() == 1; }));

  // Silence for well over 3 heartbeats: nothing may close.
  CHECK_FALSE(crec.wait_until([](auto& r) { return !r.closes.empty(); }, 1500ms));
  CHECK(srec.with([](auto& r) { return r.closes.size(); }) == 0);

  // Blocking the server's io thread stalls it: no pong, no close answer. The client must notice.
  server->post([] { std::this_thread::sleep_for(3s); });
  REQUIRE(crec.wait_until([](auto& r) { return !r.closes.empty(); }));
  crec.with([](auto& r) {
    CHECK(r.closes[0].code == 1001);
    CHECK(r.closes[0].reason == "heartbeat");
    return 0;
  });
}

TEST_CASE("heartbeat: a peer that only receives is asked for pongs and stays up") {
  Recorder srec, crec;
  EndpointOptions so = server_options();
  so.heartbeat = 100ms;
  auto server = start(so, srec);
  EndpointOptions co = client_options(server->port());
  co.heartbeat = 0ms;  // never pings, never sends: only its automatic pongs come back
  co.offer_bridge = false;
  auto client = start(co, crec);
  REQUIRE(srec.wait_until([](auto& r) { return r.opens.size() == 1; }));
  ConnId id = srec.with([](auto& r) { return r.opens[0].id; });
  for (int i = 0; i < 30; ++i) {  // a stream for well over 3 heartbeats
    server->send(id, "tick", false);
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(crec.wait_until([](auto& r) { return r.messages.size() == 30; }));
  CHECK(srec.with([](auto& r) { return r.closes.size(); }) == 0);
}

TEST_CASE("listen on a port in use fails at start with the reason") {
  Recorder srec, srec2;
  auto server = start(server_options(), srec);
  std::string error;
  auto second = Endpoint::create(server_options("127.0.0.1:" + std::to_string(server->port())),
                                 srec2.handlers(), error);
  REQUIRE(second);
  CHECK_FALSE(second->start(error));
  MESSAGE(error);
  CHECK(error.find("in use") != std::string::npos);
}
