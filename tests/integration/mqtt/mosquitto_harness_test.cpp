// The real mosquitto harness (support/mosquitto_harness.hpp), checked with the mosquitto_pub and
// mosquitto_sub clients: a message passes (plain, user/password, TLS with a client certificate),
// and a persistent session's queued QoS 1 message survives restart() and kill9() + start().

#include "support/mosquitto_harness.hpp"
#include "bus/nats_server_process.hpp"  // find_executable
#include "support/child_process.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weir::testing::ChildProcess;
using weir::testing::Mosquitto;
using weir::testing::MosquittoOptions;
using weir::testing::wait_until;

namespace {

std::string tool(const std::string& name) {
  const auto found = weir::bus::find_executable(name);
  REQUIRE_MESSAGE(found, name << " not found: apt install mosquitto-clients");
  return *found;
}

// The connection arguments of mosquitto_pub / mosquitto_sub for this broker.
std::vector<std::string> connect_args(const Mosquitto& m, const MosquittoOptions& o, bool with_cert = true) {
  std::vector<std::string> a{"-h", o.tls ? "localhost" : m.host(), "-p", std::to_string(m.port())};
  if (!o.username.empty()) a.insert(a.end(), {"-u", o.username, "-P", o.password});
  if (o.tls) {
    a.insert(a.end(), {"--cafile", m.ca_file()});
    if (with_cert) a.insert(a.end(), {"--cert", m.client_cert_file(), "--key", m.client_key_file()});
  }
  return a;
}

std::vector<std::string> cmd(const std::string& name, std::vector<std::string> conn,
                             const std::vector<std::string>& rest) {
  std::vector<std::string> a{tool(name)};
  a.insert(a.end(), conn.begin(), conn.end());
  a.insert(a.end(), rest.begin(), rest.end());
  return a;
}

// Runs a client to completion; returns its exit status. `out` gets its output.
int run(const std::vector<std::string>& argv, const std::string& log_file, std::string* out = nullptr) {
  ChildProcess p(argv, log_file);
  const bool ended = wait_until([&] { return !p.running(); }, 30s, 20ms);
  CHECK_MESSAGE(ended, argv[0] << " did not end in 30 s");
  const int status = p.terminate(1000);
  if (out != nullptr) *out = p.log();
  return status;
}

// A QoS 1 message from mosquitto_pub reaches a mosquitto_sub that is subscribed (-d: its SUBACK
// is in its output) before the publish.
void check_message_passes(const Mosquitto& m, const MosquittoOptions& o, const std::string& payload) {
  const auto conn = connect_args(m, o);
  // stdbuf: mosquitto_sub does not flush its -d output into a file.
  std::vector<std::string> argv{tool("stdbuf"), "-oL"};
  for (auto& a : cmd("mosquitto_sub", conn, {"-d", "-q", "1", "-t", "weir/test", "-C", "1", "-W", "20"}))
    argv.push_back(a);
  ChildProcess sub(argv, m.dir() + "/sub.out");
  REQUIRE_MESSAGE(
      wait_until([&] { return !sub.running() || sub.log().find("SUBACK") != std::string::npos; }, 10s),
      sub.log());
  REQUIRE_MESSAGE(sub.running(), sub.log());
  std::string pub_out;
  CHECK_MESSAGE(run(cmd("mosquitto_pub", conn, {"-q", "1", "-t", "weir/test", "-m", payload}),
                    m.dir() + "/pub.out", &pub_out) == 0,
                pub_out);
  CHECK(wait_until([&] { return !sub.running(); }, 20s));
  CHECK_MESSAGE(sub.terminate(1000) == 0, sub.log());
  CHECK_MESSAGE(sub.log().find(payload) != std::string::npos, sub.log());
}

// Loopback sockets in TIME_WAIT whose local port is `port` (/proc/net/tcp, state 06).
int time_wait_on(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string sl, local, remote, st;
    ss >> sl >> local >> remote >> st;
    const auto colon = local.find(':');
    if (colon != std::string::npos && std::stoi(local.substr(colon + 1), nullptr, 16) == port && st == "06")
      ++n;
  }
  return n;
}

// A persistent session (clean session off, QoS 1) for client id `id` on topic weir/persist.
void create_session(const Mosquitto& m, const std::string& id) {
  std::string out;
  REQUIRE_MESSAGE(
      run(cmd("mosquitto_sub", connect_args(m, {}), {"-c", "-i", id, "-q", "1", "-t", "weir/persist", "-E"}),
          m.dir() + "/session.out", &out) == 0,
      out);
}

void publish_queued(const Mosquitto& m, const std::string& payload) {
  std::string out;
  REQUIRE_MESSAGE(
      run(cmd("mosquitto_pub", connect_args(m, {}), {"-q", "1", "-t", "weir/persist", "-m", payload}),
          m.dir() + "/pub.out", &out) == 0,
      out);
}

// The session `id` comes back and receives its queued message.
void check_queued_delivered(const Mosquitto& m, const std::string& id, const std::string& payload) {
  std::string out;
  CHECK_MESSAGE(run(cmd("mosquitto_sub", connect_args(m, {}),
                        {"-c", "-i", id, "-q", "1", "-t", "weir/persist", "-C", "1", "-W", "10"}),
                    m.dir() + "/resume.out", &out) == 0,
                out << "\nbroker log:\n"
                    << m.log());
  CHECK_MESSAGE(out.find(payload) != std::string::npos, out);
}

}  // namespace

TEST_CASE("mosquitto: a message passes; url, files and log") {
  Mosquitto m;
  CHECK(m.running());
  CHECK(m.url() == "mqtt://127.0.0.1:" + std::to_string(m.port()));
  check_message_passes(m, {}, "hello-plain");
  CHECK(m.log().find("mosquitto version") != std::string::npos);
  CHECK(m.log().find("Opening ipv4 listen socket on port " + std::to_string(m.port())) != std::string::npos);
}

TEST_CASE("mosquitto: restart() on the same port keeps a persistent session's queued QoS 1 message") {
  Mosquitto m;
  const int port = m.port();
  create_session(m, "weir-sess");
  // A connected client while the broker stops: the broker closes that connection first, so its
  // end lingers in TIME_WAIT on the listening port, which start() must bind again (SO_REUSEADDR).
  ChildProcess idle(cmd("mosquitto_sub", connect_args(m, {}), {"-i", "weir-idle", "-t", "weir/idle"}),
                    m.dir() + "/idle.out");
  REQUIRE_MESSAGE(wait_until([&] { return m.log().find(" as weir-idle ") != std::string::npos; }, 10s),
                  m.log());
  publish_queued(m, "queued-across-restart");

  m.stop();
  CHECK_FALSE(m.running());
  CHECK(wait_until([&] { return time_wait_on(port) > 0; }, 3s));
  MESSAGE("TIME_WAIT sockets on port " << port << " before start(): " << time_wait_on(port));
  m.start();
  CHECK(m.running());
  CHECK(m.port() == port);
  check_queued_delivered(m, "weir-sess", "queued-across-restart");

  // And restart() in one call.
  publish_queued(m, "queued-across-restart-2");
  m.restart();
  CHECK(m.port() == port);
  check_queued_delivered(m, "weir-sess", "queued-across-restart-2");
}

TEST_CASE("mosquitto: kill9() keeps what the broker autosaved (autosave_interval 1)") {
  Mosquitto m;
  create_session(m, "weir-sess9");
  publish_queued(m, "queued-across-kill9");
  std::this_thread::sleep_for(2500ms);  // > autosave_interval
  m.kill9();
  CHECK_FALSE(m.running());
  m.start();
  check_queued_delivered(m, "weir-sess9", "queued-across-kill9");
}

TEST_CASE("mosquitto: TLS with a client certificate required") {
  MosquittoOptions o;
  o.tls = true;
  o.require_client_cert = true;
  Mosquitto m(o);
  CHECK(m.url() == "mqtts://localhost:" + std::to_string(m.port()));
  check_message_passes(m, o, "hello-tls");

  std::string out;
  CHECK_MESSAGE(
      run(cmd("mosquitto_pub", connect_args(m, o, false), {"-q", "1", "-t", "weir/test", "-m", "x"}),
          m.dir() + "/nocert.out", &out) != 0,
      "a client without a certificate was let in: " << out);
  CHECK_MESSAGE(run(cmd("mosquitto_pub", {"-h", m.host(), "-p", std::to_string(m.port())},
                        {"-q", "1", "-t", "weir/test", "-m", "x"}),
                    m.dir() + "/plain.out", &out) != 0,
                "plain MQTT on the TLS listener was let in: " << out);
}

TEST_CASE("mosquitto: TLS without client certificates") {
  MosquittoOptions o;
  o.tls = true;
  Mosquitto m(o);
  std::vector<std::string> conn = connect_args(m, o, false);
  std::string out;
  CHECK_MESSAGE(run(cmd("mosquitto_pub", conn, {"-q", "1", "-t", "weir/test", "-m", "x"}),
                    m.dir() + "/pub.out", &out) == 0,
                out << "\nbroker log:\n"
                    << m.log());
}

TEST_CASE("mosquitto: user and password") {
  MosquittoOptions o;
  o.username = "weir";
  o.password = "s3cret";
  Mosquitto m(o);
  check_message_passes(m, o, "hello-auth");

  MosquittoOptions wrong = o;
  wrong.password = "wrong";
  std::string out;
  CHECK_MESSAGE(run(cmd("mosquitto_pub", connect_args(m, wrong), {"-q", "1", "-t", "weir/test", "-m", "x"}),
                    m.dir() + "/wrong.out", &out) != 0,
                "a wrong password was accepted: " << out);
  CHECK_MESSAGE(run(cmd("mosquitto_pub", connect_args(m, {}), {"-q", "1", "-t", "weir/test", "-m", "x"}),
                    m.dir() + "/anon.out", &out) != 0,
                "an anonymous client was accepted: " << out);
}

// Sets $WEIR_MOSQUITTO for one scope, then puts back what it was.
struct BrokerBinary {
  explicit BrokerBinary(const char* path) {
    if (const char* old = std::getenv("WEIR_MOSQUITTO")) saved = old;
    ::setenv("WEIR_MOSQUITTO", path, 1);
  }
  ~BrokerBinary() {
    if (saved) {
      ::setenv("WEIR_MOSQUITTO", saved->c_str(), 1);
    } else {
      ::unsetenv("WEIR_MOSQUITTO");
    }
  }
  std::optional<std::string> saved;
};

TEST_CASE("mosquitto: a missing broker and one that cannot start throw (failures, not skips)") {
  {
    BrokerBinary b("/nonexistent/mosquitto");
    CHECK_THROWS_WITH_AS(Mosquitto(), doctest::Contains("mosquitto not found: apt install mosquitto"),
                         std::runtime_error);
  }
  {
    BrokerBinary b("/bin/false");  // exits at once
    CHECK_THROWS_WITH_AS(Mosquitto(), doctest::Contains("exited"), std::runtime_error);
  }
}
