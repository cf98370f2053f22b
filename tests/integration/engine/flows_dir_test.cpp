// A flows dir with a broken flow and a good one: the good one runs, the broken one is reported
// with file:line:col. And the embedded nats-server: started by `weir run` without a URL, gone
// after SIGTERM and after SIGKILL of the engine.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "rig.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("a broken flow is reported and the good one runs") {
  EngineRig rig;
  rig.create_streams();
  rig.write_flow("broken.json", R"({
  "name": "broken",
  "components": [
    { "id": "gen", "type": "generate", "config": { "count": -1 } }
  ]
})");
  rig.write_flow("good.json", R"({
  "name": "good",
  "components": [
    { "id": "gen", "type": "generate", "config": { "count": 50, "interval": "0s" } },
    { "id": "sink", "type": "nats_output", "inputs": ["gen"], "config": { "subject": "out.data" } }
  ]
})");
  // At boot, a symlink loop named x.json and a 50 MB flow file: each a diagnostic for its file.
  const auto flows = std::filesystem::path(rig.flows_dir());
  std::filesystem::create_symlink("x.json", flows / "x.json");
  { std::ofstream(flows / "huge.json") << R"({"name": "huge", "description": ")"; }
  std::filesystem::resize_file(flows / "huge.json", 50u << 20);  // sparse: no disk used
  rig.start_engine();
  CHECK(rig.wait_out(50, 60s) == 50);
  std::this_thread::sleep_for(1s);
  CHECK(rig.out_count() == 50);
  CHECK(rig.stop_engine() == 0);
  auto log = rig.engine_log();
  CHECK_MESSAGE(log.find("x.json:0:0: error[io_error] /: cannot read " + (flows / "x.json").string() +
                         ": Too many levels of symbolic links") != std::string::npos,
                log);
  CHECK(log.find("huge.json:0:0: error[file_too_large] /: cannot read " + (flows / "huge.json").string() +
                 ": 52428800 bytes, more than the limit of 1048576 bytes (1 MiB) for a flow file") !=
        std::string::npos);
  CHECK_MESSAGE(
      std::regex_search(
          log,
          std::regex(
              R"(broken\.json:4:61: error\[out_of_range\] /components/0/config/count: must be at least 0, got -1)")),
      log);
  CHECK(log.find("1/1 flows up, 3 invalid") != std::string::npos);
}

TEST_CASE("embedded nats-server: started without a URL, gone after SIGTERM and after SIGKILL") {
  TempDir dir("weir-embedded");
  const int port = free_port();
  std::filesystem::create_directories(dir.file("flows"));
  std::ofstream(dir.file("flows/demo.json")) << R"({"name": "demo", "components": [
    {"id": "gen", "type": "generate", "config": {"interval": "50ms"}},
    {"id": "out", "type": "log", "inputs": ["gen"]}]})";
  std::ofstream(dir.file("weir.json"))
      << R"({"nats": {"embedded": {"port": )" + std::to_string(port) +
             R"(}}, "flows_dir": "flows", "data_dir": "data", "http": {"listen": ""}})";
  const std::vector<std::string> argv{weir_binary(), "run", "--config", dir.file("weir.json")};
  {
    ChildProcess engine(argv, dir.file("engine.log"));
    REQUIRE_MESSAGE(wait_until([&] { return port_open(port); }, 30s), engine.log());
    CHECK(wait_until([&] { return engine.log().find("1/1 flows up") != std::string::npos; }, 30s));
    CHECK(std::filesystem::exists(dir.file("data/nats")));
    CHECK(engine.terminate() == 0);
    CHECK(wait_until([&] { return !port_open(port); }, 15s));
  }
  {
    ChildProcess engine(argv, dir.file("engine2.log"));
    REQUIRE_MESSAGE(wait_until([&] { return port_open(port); }, 30s), engine.log());
    CHECK(wait_until([&] { return engine.log().find("1/1 flows up") != std::string::npos; }, 30s));
    engine.kill9();
    // The parent-death signal takes the server down with the engine: no orphan.
    CHECK(wait_until([&] { return !port_open(port); }, 15s));
  }
}
