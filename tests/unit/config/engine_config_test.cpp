#include "config/engine_config.hpp"
#include "sdk/diagnostic.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace weir::config;

namespace {

// A fresh temporary folder that is also the current directory while the fixture lives.
struct TempCwd {
  fs::path dir;
  fs::path old;
  TempCwd() {
    char tmpl[] = "/tmp/weir_config_test_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = fs::path(tmpl);
    old = fs::current_path();
    fs::current_path(dir);
  }
  ~TempCwd() {
    fs::current_path(old);
    fs::remove_all(dir);
  }
  void write(const fs::path& rel, const std::string& text) const {
    fs::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel, std::ios::binary) << text;
  }
};

struct Env {
  std::map<std::string, std::string> vars;
  Getenv fn() const {
    return [this](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

const Getenv no_env = [](const char*) -> const char* { return nullptr; };

const weir::sdk::Diagnostic& only(const weir::sdk::Diagnostics& ds) {
  REQUIRE(ds.size() == 1);
  return ds.items()[0];
}

}  // namespace

TEST_CASE("defaults when there is no file") {
  TempCwd cwd;
  const LoadResult r = load_engine_config(std::nullopt, no_env);
  CHECK(r.diagnostics.empty());
  CHECK(r.file.empty());
  const EngineConfig& c = r.config;
  CHECK(c.nats.url.empty());
  CHECK(c.nats.embedded.port == 4222);
  CHECK(c.nats.embedded.binary == "nats-server");
  CHECK(c.nats.creds.empty());
  CHECK(c.flows_dir == fs::current_path() / "flows");
  CHECK(c.data_dir == fs::current_path() / "data");
  CHECK(c.http.listen == "127.0.0.1:8080");
  CHECK(c.http.token.empty());
  CHECK(c.log.level == LogLevel::info);
  CHECK(c.log.format == LogFormat::text);
  CHECK(c.log.file.empty());
  CHECK(c.log.max_size == 10u * 1024 * 1024);
  CHECK(c.log.max_files == 3);
  CHECK(c.shutdown_timeout == 10s);
}

TEST_CASE("the shipped config/weir.json holds every key, at its default") {
  const char* root = std::getenv("WEIR_SOURCE_ROOT");
  REQUIRE_MESSAGE(root != nullptr, "meson sets WEIR_SOURCE_ROOT for this test");
  const fs::path file = fs::path(root) / "config" / "weir.json";
  const LoadResult r = load_engine_config(file, no_env);
  for (const auto& d : r.diagnostics.items()) FAIL_CHECK(weir::sdk::format(d));
  EngineConfig expected = default_engine_config();
  expected.flows_dir = (fs::absolute(root) / "flows").lexically_normal();
  expected.data_dir = (fs::absolute(root) / "data").lexically_normal();
  CHECK(dump_engine_config(r.config) == dump_engine_config(expected));
  // Every option appears in the file: removing nothing from it still dumps the same keys.
  for (const auto& o : engine_options()) {
    std::string last = o.key.substr(o.key.rfind('.') + 1);
    CHECK_MESSAGE(dump_engine_config(r.config).find("\"" + last + "\"") != std::string::npos, o.key);
  }
}

TEST_CASE("config/weir.json under the current directory is found by default") {
  TempCwd cwd;
  cwd.write("config/weir.json", R"({"flows_dir": "my-flows", "log": {"level": "debug"}})");
  const LoadResult r = load_engine_config(std::nullopt, no_env);
  CHECK(r.diagnostics.empty());
  CHECK(r.file == "config/weir.json");
  CHECK(r.config.flows_dir == cwd.dir / "config" / "my-flows");
  CHECK(r.config.data_dir == cwd.dir / "data");  // defaults stay under the current dir
  CHECK(r.config.log.level == LogLevel::debug);
}

TEST_CASE("WEIR_CONFIG names the file when --config is not given, before config/weir.json") {
  TempCwd cwd;
  cwd.write("config/weir.json", R"({"log": {"level": "debug"}})");
  cwd.write("etc/weir/weir.json", R"({"log": {"level": "warn"}, "flows_dir": "flows"})");
  Env env;
  env.vars["WEIR_CONFIG"] = (cwd.dir / "etc/weir/weir.json").string();
  const LoadResult named = load_engine_config(std::nullopt, env.fn());
  CHECK(named.diagnostics.empty());
  CHECK(named.file == cwd.dir / "etc/weir/weir.json");
  CHECK(named.config.log.level == LogLevel::warn);
  CHECK(named.config.flows_dir == cwd.dir / "etc/weir/flows");

  // --config wins over WEIR_CONFIG.
  const LoadResult flag = load_engine_config(fs::path("config/weir.json"), env.fn());
  CHECK(flag.config.log.level == LogLevel::debug);

  // Named but missing is an error, as with --config; empty counts as unset.
  env.vars["WEIR_CONFIG"] = (cwd.dir / "nowhere.json").string();
  const LoadResult missing = load_engine_config(std::nullopt, env.fn());
  CHECK(only(missing.diagnostics).code == "io_error");
  env.vars["WEIR_CONFIG"] = "";
  CHECK(load_engine_config(std::nullopt, env.fn()).file == "config/weir.json");
}

TEST_CASE("file values override defaults; relative paths resolve against the file's folder") {
  TempCwd cwd;
  cwd.write("etc/weir.json", R"({
    "$schema": "./engine.schema.json",
    "nats": { "url": "nats://hub:4222", "embedded": { "port": 4333, "binary": "./bin/nats-server" },
              "creds": "secrets/weir.creds", "user": "u", "password": "p", "token": "t" },
    "flows_dir": "/srv/flows", "data_dir": "../var/data",
    "http": { "listen": "0.0.0.0:9090", "token": "secret" },
    "log": { "level": "warn", "format": "json", "file": "logs/weir.log", "max_size": 1048576,
             "max_files": 7 },
    "shutdown_timeout": "1m30s"
  })");
  const LoadResult r = load_engine_config(fs::path("etc/weir.json"), no_env);
  for (const auto& d : r.diagnostics.items()) FAIL_CHECK(weir::sdk::format(d));
  const EngineConfig& c = r.config;
  CHECK(c.nats.url == "nats://hub:4222");
  CHECK(c.nats.embedded.port == 4333);
  CHECK(c.nats.embedded.binary == (cwd.dir / "etc/bin/nats-server").string());
  CHECK(c.nats.creds == cwd.dir / "etc/secrets/weir.creds");
  CHECK(c.nats.user == "u");
  CHECK(c.nats.password == "p");
  CHECK(c.nats.token == "t");
  CHECK(c.flows_dir == "/srv/flows");
  CHECK(c.data_dir == cwd.dir / "var/data");
  CHECK(c.http.listen == "0.0.0.0:9090");
  CHECK(c.http.token == "secret");
  CHECK(c.log.level == LogLevel::warn);
  CHECK(c.log.format == LogFormat::json);
  CHECK(c.log.file == cwd.dir / "etc/logs/weir.log");
  CHECK(c.log.max_size == 1048576u);
  CHECK(c.log.max_files == 7);
  CHECK(c.shutdown_timeout == 90s);
}

TEST_CASE("environment overrides the file; its relative paths resolve against the current dir") {
  TempCwd cwd;
  cwd.write("etc/weir.json", R"({"flows_dir": "f", "nats": {"url": "nats://file:4222"},
                                 "log": {"level": "warn"}})");
  Env env;
  env.vars = {{"WEIR_NATS_URL", "nats://env:4222"}, {"WEIR_NATS_CREDS", "c.creds"},
              {"WEIR_NATS_STORE_DIR", "/srv/nats"}, {"WEIR_NATS_USER", "eu"},
              {"WEIR_NATS_PASSWORD", "ep"},         {"WEIR_NATS_TOKEN", "et"},
              {"WEIR_NATS_PORT", "5222"},           {"WEIR_NATS_BINARY", "/opt/nats/nats-server"},
              {"WEIR_FLOWS_DIR", "env-flows"},      {"WEIR_DATA_DIR", "/data"},
              {"WEIR_HTTP_LISTEN", "[::1]:8081"},   {"WEIR_HTTP_TOKEN", "ht"},
              {"WEIR_LOG_LEVEL", "error"},          {"WEIR_LOG_FORMAT", "json"},
              {"WEIR_LOG_FILE", "w.log"},           {"WEIR_LOG_MAX_SIZE", "1MB"},
              {"WEIR_LOG_MAX_FILES", "9"},          {"WEIR_SHUTDOWN_TIMEOUT", "2s"}};
  const LoadResult r = load_engine_config(fs::path("etc/weir.json"), env.fn());
  for (const auto& d : r.diagnostics.items()) FAIL_CHECK(weir::sdk::format(d));
  const EngineConfig& c = r.config;
  CHECK(c.nats.url == "nats://env:4222");
  CHECK(c.nats.creds == cwd.dir / "c.creds");
  CHECK(c.nats.store_dir == "/srv/nats");
  CHECK(c.nats.user == "eu");
  CHECK(c.nats.password == "ep");
  CHECK(c.nats.token == "et");
  CHECK(c.nats.embedded.port == 5222);
  CHECK(c.nats.embedded.binary == "/opt/nats/nats-server");
  CHECK(c.flows_dir == cwd.dir / "env-flows");
  CHECK(c.data_dir == "/data");
  CHECK(c.http.listen == "[::1]:8081");
  CHECK(c.http.token == "ht");
  CHECK(c.log.level == LogLevel::error);
  CHECK(c.log.format == LogFormat::json);
  CHECK(c.log.file == cwd.dir / "w.log");
  CHECK(c.log.max_size == 1000000u);
  CHECK(c.log.max_files == 9);
  CHECK(c.shutdown_timeout == 2s);
}

TEST_CASE("empty environment variables count as unset") {
  TempCwd cwd;
  cwd.write("weir.json", R"({"nats": {"url": "nats://file:4222"}})");
  Env env;
  env.vars = {{"WEIR_NATS_URL", ""}, {"WEIR_FLOWS_DIR", ""}};
  const LoadResult r = load_engine_config(fs::path("weir.json"), env.fn());
  CHECK(r.diagnostics.empty());
  CHECK(r.config.nats.url == "nats://file:4222");
  CHECK(r.config.flows_dir == cwd.dir / "flows");
}

TEST_CASE("environment problems name the variable") {
  TempCwd cwd;
  Env env;
  env.vars = {{"WEIR_NATS_PORT", "70000"},
              {"WEIR_LOG_LEVEL", "INFO"},
              {"WEIR_SHUTDOWN_TIMEOUT", "10"},
              {"WEIR_HTTP_LISTEN", "8080"}};
  const LoadResult r = load_engine_config(std::nullopt, env.fn());
  REQUIRE(r.diagnostics.size() == 4);
  std::map<std::string, weir::sdk::Diagnostic> by_pointer;
  for (const auto& d : r.diagnostics.items()) by_pointer[d.pointer] = d;
  const auto& port = by_pointer["/nats/embedded/port"];
  CHECK(port.code == "out_of_range");
  CHECK(port.message == "environment variable WEIR_NATS_PORT: must be 1..65535, got 70000");
  CHECK(port.file.empty());
  const auto& level = by_pointer["/log/level"];
  CHECK(level.code == "invalid_value");
  CHECK(level.message.find("WEIR_LOG_LEVEL") != std::string::npos);
  CHECK(level.hint.find("\"info\"") != std::string::npos);
  CHECK(by_pointer["/shutdown_timeout"].code == "invalid_value");
  CHECK(by_pointer["/shutdown_timeout"].message.find("WEIR_SHUTDOWN_TIMEOUT") != std::string::npos);
  CHECK(by_pointer["/http/listen"].code == "invalid_value");
  // The bad values left the defaults in place.
  CHECK(r.config.nats.embedded.port == 4222);
  CHECK(r.config.log.level == LogLevel::info);
}

TEST_CASE("environment values with control characters or of any size are quoted escaped and cut") {
  // The environment is the operator's and is not bounded; what a diagnostic quotes of it is.
  TempCwd cwd;
  Env env;
  const std::string hostile = "\x1b]0;owned\x07\r\xff" + std::string(1 << 20, 'x');
  env.vars = {
      {"WEIR_LOG_LEVEL", hostile}, {"WEIR_NATS_PORT", "1\x1b[2J"}, {"WEIR_SHUTDOWN_TIMEOUT", hostile}};
  const LoadResult r = load_engine_config(std::nullopt, env.fn());
  REQUIRE(r.diagnostics.size() == 3);
  for (const auto& d : r.diagnostics.items()) {
    const std::string text = weir::sdk::format(d);
    CAPTURE(text.substr(0, 200));
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.find('\xff') == std::string::npos);
    CHECK(text.size() < 1000);
    CHECK(text.find("WEIR_") != std::string::npos);
  }
  CHECK(r.config.log.level == LogLevel::info);
  CHECK(r.config.nats.embedded.port == 4222);
}

TEST_CASE("an explicit file that cannot be read is an error") {
  TempCwd cwd;
  const LoadResult r = load_engine_config(fs::path("missing.json"), no_env);
  const auto& d = only(r.diagnostics);
  CHECK(d.code == "io_error");
  CHECK(d.message.find("missing.json") != std::string::npos);
  CHECK(r.file.empty());
}

TEST_CASE("an engine config over 1 MiB, or a symlink loop, is an error naming the file, never read whole") {
  TempCwd cwd;
  cwd.write("big.json", "{}");
  fs::resize_file("big.json", 50u << 20);  // sparse
  const LoadResult big = load_engine_config(fs::path("big.json"), no_env);
  const auto& d = only(big.diagnostics);
  CHECK(d.code == "io_error");
  CHECK(d.message.find("big.json: 52428800 bytes, more than the limit of 1048576") != std::string::npos);
  fs::create_symlink("loop.json", "loop.json");
  const LoadResult loop = load_engine_config(fs::path("loop.json"), no_env);
  CHECK(only(loop.diagnostics).message.find("loop.json") != std::string::npos);
}
