#include "bus/connection.hpp"
#include "bus/nats_server_process.hpp"
#include "support/nats_fixture.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

using namespace weir;
using namespace std::chrono_literals;
using testing::TempDir;
using testing::wait_until;

namespace {

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

bus::NatsServerOptions options_in(const TempDir& dir) {
  bus::NatsServerOptions o;
  o.binary = testing::nats_server_binary();
  o.store_dir = dir.file("store");
  return o;
}

}  // namespace

TEST_CASE("two servers on port 0 get distinct free ports and accept clients") {
  testing::NatsServer a;
  testing::NatsServer b;
  CHECK(a.port() > 0);
  CHECK(b.port() > 0);
  CHECK(a.port() != b.port());
  CHECK(a.store_dir() != b.store_dir());
  auto ca = testing::connect_to(a);
  auto cb = testing::connect_to(b);
  CHECK(ca->connected());
  CHECK(cb->connected());
}

TEST_CASE("stop() terminates and reaps the server; a later start() reuses port and store") {
  TempDir dir;
  bus::NatsServerProcess p(options_in(dir));
  REQUIRE_MESSAGE(p.start().ok(), p.log_tail());
  const pid_t first = p.pid();
  const int port = p.port();
  REQUIRE(p.stop().ok());
  CHECK_FALSE(p.running());
  CHECK_FALSE(alive(first));  // reaped, not a zombie
  REQUIRE_MESSAGE(p.start().ok(), p.log_tail());
  CHECK(p.port() == port);
  CHECK(p.pid() != first);
}

TEST_CASE("a supervised server killed with SIGKILL is restarted on the same port, and clients reconnect") {
  TempDir dir;
  auto o = options_in(dir);
  o.supervise = true;
  o.restart_backoff_min = 50ms;
  bus::NatsServerProcess p(o);
  REQUIRE_MESSAGE(p.start().ok(), p.log_tail());
  const pid_t first = p.pid();
  const int port = p.port();

  bus::ConnectOptions co;
  co.url = p.url();
  auto conn = bus::Connection::connect(co);
  REQUIRE(conn.ok());

  REQUIRE(::kill(first, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return p.pid() != 0 && p.pid() != first; }, 20s));
  REQUIRE(p.wait_ready(20s));
  CHECK(p.port() == port);
  CHECK(p.restarts() == 1);
  CHECK_FALSE(alive(first));
  CHECK(wait_until([&] { return (*conn)->connected() && (*conn)->reconnects() >= 1; }, 20s));

  const pid_t second = p.pid();
  REQUIRE(p.stop().ok());  // a requested stop is not restarted
  CHECK_FALSE(alive(second));
  CHECK(p.restarts() == 1);
  CHECK_FALSE(p.running());
}

TEST_CASE("a server started from a thread that then exits keeps running") {
  // PDEATHSIG follows the forking *thread*; the monitor thread, not the caller, forks.
  TempDir dir;
  bus::NatsServerProcess p(options_in(dir));
  bus::Status st;
  std::thread([&] { st = p.start(); }).join();
  REQUIRE_MESSAGE(st.ok(), st.text());
  const pid_t pid = p.pid();
  // Prove liveness with a real client round trip after the starting thread is gone.
  bus::ConnectOptions co;
  co.url = p.url();
  auto conn = bus::Connection::connect(co);
  REQUIRE(conn.ok());
  CHECK((*conn)->flush(5s).ok());
  CHECK(p.pid() == pid);
  CHECK(alive(pid));
}

TEST_CASE("PDEATHSIG: when the process owning the server is SIGKILLed, the server dies too") {
  const char* helper = std::getenv("WEIR_PDEATH_HELPER");
  REQUIRE_MESSAGE(helper != nullptr, "WEIR_PDEATH_HELPER is not set (run through meson test)");
  TempDir dir;
  const std::string binary = testing::nats_server_binary();
  const std::string store = dir.file("store");
  // Orphans of our descendants are re-parented to us, so we can reap the server and see how it died.
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);

  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(out[1], 1);
    ::execl(helper, helper, binary.c_str(), store.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  // Whatever fails below, the helper (and so, by PDEATHSIG, its server) must not outlive the test.
  struct KillHelper {
    pid_t pid;
    ~KillHelper() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } guard{child};
  std::string output;
  std::string line;
  char c = 0;
  while (::read(out[0], &c, 1) == 1) {
    if (c != '\n') {
      line += c;
      continue;
    }
    output += line + "\n";
    if (line.rfind("PID ", 0) == 0) break;
    line.clear();
  }
  ::close(out[0]);
  std::istringstream in(line);
  std::string tag;
  int server_pid = 0;
  int port = 0;
  in >> tag >> server_pid >> port;
  REQUIRE_MESSAGE(server_pid > 0, "helper did not report a server pid; output: '" << output << "'");
  CHECK(port > 0);
  CHECK(alive(server_pid));

  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  guard.pid = 0;

  int server_status = 0;
  const bool reaped =
      wait_until([&] { return ::waitpid(server_pid, &server_status, WNOHANG) == server_pid; }, 20s);
  if (!reaped) ::kill(server_pid, SIGKILL);  // do not leave it behind when the assertion fails
  REQUIRE_MESSAGE(reaped, "nats-server pid " << server_pid << " outlived its SIGKILLed parent");
  CHECK(WIFSIGNALED(server_status));
  CHECK(WTERMSIG(server_status) == SIGKILL);
}

TEST_CASE("the harness restart() keeps port and data; kill9() then start() recovers the store") {
  testing::BusFixture f;
  f.make_stream();
  bus::JetStream pub = f.make_js();
  REQUIRE(js_Publish(nullptr, pub.raw(), "s.x", "1", 1, nullptr, nullptr) == NATS_OK);
  const int port = f.server.port();
  f.server.restart();
  CHECK(f.server.port() == port);
  REQUIRE(wait_until([&] { return f.conn->connected(); }, 20s));
  CHECK(f.stream_messages() == 1);

  f.server.kill9();
  CHECK(f.server.pid() == 0);
  f.server.start();
  REQUIRE(wait_until([&] { return f.conn->connected(); }, 20s));
  CHECK(f.server.port() == port);
  auto info = bus::stream_info(f.js.raw(), "S");
  REQUIRE_MESSAGE(info.ok(), info.status().text());
}
