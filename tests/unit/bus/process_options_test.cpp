#include "bus/nats_server_process.hpp"
#include "support/nats_harness.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

using weir::bus::find_executable;
using weir::bus::NatsServerOptions;
using weir::bus::NatsServerProcess;
using weir::testing::TempDir;

TEST_CASE("find_executable resolves names through PATH and accepts explicit paths") {
  const auto sh = find_executable("sh");
  REQUIRE(sh.has_value());
  CHECK(sh->find('/') != std::string::npos);
  CHECK(find_executable(*sh) == sh);
  CHECK_FALSE(find_executable("weir-no-such-binary-xyz").has_value());
  CHECK_FALSE(find_executable("").has_value());
}

TEST_CASE("find_executable rejects a file that is not executable") {
  TempDir dir;
  const std::string path = dir.file("not-exec");
  std::ofstream(path) << "#!/bin/sh\n";
  ::chmod(path.c_str(), 0644);
  CHECK_FALSE(find_executable(path).has_value());
}

TEST_CASE("starting a missing binary fails with a clear message and leaves nothing running") {
  TempDir dir;
  NatsServerOptions o;
  o.binary = dir.file("no-such-nats-server");
  o.store_dir = dir.file("store");
  NatsServerProcess p(o);
  const auto s = p.start();
  CHECK_FALSE(s.ok());
  CHECK(s.text().find("not found") != std::string::npos);
  CHECK_FALSE(p.running());
}

TEST_CASE("a binary that exits at once makes start() fail with its log tail") {
  TempDir dir;
  const std::string fake = dir.file("fake-server");
  std::ofstream(fake) << "#!/bin/sh\necho 'fake server refuses to run' >&2\nexit 3\n";
  ::chmod(fake.c_str(), 0755);
  NatsServerOptions o;
  o.binary = fake;
  o.store_dir = dir.file("store");
  NatsServerProcess p(o);
  const auto s = p.start();
  REQUIRE_FALSE(s.ok());
  CHECK(s.text().find("exited with status 3") != std::string::npos);
  CHECK(s.text().find("fake server refuses to run") != std::string::npos);
  CHECK_FALSE(p.running());
  CHECK(p.stop().ok());  // idempotent
}

TEST_CASE("TempDir creates a private directory and removes it with its contents") {
  std::string path;
  {
    TempDir dir("weir-unit");
    path = dir.path();
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    std::ofstream(dir.file("f")) << "x";
  }
  struct stat st {};
  CHECK(::stat(path.c_str(), &st) != 0);
}

TEST_CASE("wait_until returns as soon as the condition holds, false on timeout") {
  int n = 0;
  CHECK(weir::testing::wait_until([&] { return ++n >= 3; }, std::chrono::seconds(5),
                                  std::chrono::milliseconds(1)));
  CHECK(n == 3);
  CHECK_FALSE(weir::testing::wait_until([] { return false; }, std::chrono::milliseconds(20)));
}

TEST_CASE("the harness fails clearly when nats-server cannot be found") {
  const char* old = std::getenv("WEIR_NATS_SERVER");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("WEIR_NATS_SERVER", "/nonexistent-weir/nats-server", 1);
  bool threw = false;
  try {
    weir::testing::NatsServer server;
  } catch (const std::runtime_error& e) {
    threw = true;
    CHECK(std::string(e.what()).find("nats-server not found: apt install nats-server") != std::string::npos);
  }
  if (old != nullptr) {
    ::setenv("WEIR_NATS_SERVER", saved.c_str(), 1);
  } else {
    ::unsetenv("WEIR_NATS_SERVER");
  }
  CHECK(threw);
}
