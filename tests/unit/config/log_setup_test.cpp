#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "log/flow_levels.hpp"
#include "log/setup.hpp"

namespace fs = std::filesystem;
using weir::config::LogConfig;
using weir::config::LogFormat;
using weir::config::LogLevel;

namespace {

struct TempDir {
  fs::path dir;
  TempDir() {
    char tmpl[] = "/tmp/weir_log_test_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~TempDir() {
    weir::log::setup_logging(LogConfig{});  // let go of the file before removing it
    fs::remove_all(dir);
  }
};

std::vector<std::string> lines_of(const fs::path& file) {
  spdlog::default_logger()->flush();
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("json format: one parseable object per line, message escaped") {
  TempDir tmp;
  LogConfig c;
  c.format = LogFormat::json;
  c.level = LogLevel::debug;
  c.file = tmp.dir / "logs" / "weir.log";  // the folder does not exist yet
  std::string error;
  REQUIRE(weir::log::setup_logging(c, &error));
  spdlog::info("[site-a/hot] said \"hi\"\n\tand {}", "left");
  spdlog::debug("caf\xC3\xA9 \x01");
  spdlog::trace("not shown at debug");
  spdlog::warn("careful");

  const auto lines = lines_of(c.file);
  REQUIRE(lines.size() == 3);
  const std::regex ts(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  const char* levels[] = {"info", "debug", "warn"};
  // The [flow/component] prefix of the first becomes fields (log_format_test has the details).
  const char* messages[] = {"said \"hi\"\n\tand left", "caf\xC3\xA9 \x01", "careful"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(lines[i]);
    const auto v = boost::json::parse(lines[i]);
    const auto& o = v.as_object();
    CHECK(o.size() == (i == 0 ? 5 : 3));
    CHECK(std::regex_match(std::string(o.at("ts").as_string()), ts));
    CHECK(o.at("level").as_string() == levels[i]);
    CHECK(o.at("msg").as_string() == messages[i]);
  }
}

TEST_CASE("text format and level filtering") {
  TempDir tmp;
  LogConfig c;
  c.file = tmp.dir / "weir.log";
  c.level = LogLevel::warn;
  REQUIRE(weir::log::setup_logging(c));
  spdlog::info("dropped");
  spdlog::warn("kept {}", 1);
  spdlog::error("also kept");
  const auto lines = lines_of(c.file);
  REQUIRE(lines.size() == 2);
  const std::regex text(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} warning kept 1)");
  CHECK(std::regex_match(lines[0], text));
  CHECK(lines[1].find(" error also kept") != std::string::npos);

  c.level = LogLevel::off;
  REQUIRE(weir::log::setup_logging(c));
  spdlog::critical("nothing at off");
  CHECK(lines_of(c.file).size() == 2);
}

TEST_CASE("text format: control characters from user input are escaped, NUL kept, one line per message") {
  TempDir tmp;
  LogConfig c;
  c.file = tmp.dir / "weir.log";
  REQUIRE(weir::log::setup_logging(c));
  spdlog::error("[f/in] peer says {}", std::string("bye\x1b[2J\r\x07\0tail\nforged line", 26));
  const auto lines = lines_of(c.file);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find(R"(peer says bye\u001b[2J\r\u0007\u0000tail\nforged line)") != std::string::npos);
  CHECK(lines[0].find('\x1b') == std::string::npos);
}

TEST_CASE("the log file rotates at max_size, keeping max_files") {
  TempDir tmp;
  LogConfig c;
  c.file = tmp.dir / "weir.log";
  c.max_size = 256;
  c.max_files = 2;
  REQUIRE(weir::log::setup_logging(c));
  for (int i = 0; i < 40; ++i) spdlog::info("line {} of a rotating log file", i);
  spdlog::default_logger()->flush();
  CHECK(fs::exists(tmp.dir / "weir.log"));
  CHECK(fs::exists(tmp.dir / "weir.1.log"));
  CHECK(fs::exists(tmp.dir / "weir.2.log"));
  CHECK_FALSE(fs::exists(tmp.dir / "weir.3.log"));
  CHECK(fs::file_size(tmp.dir / "weir.1.log") <= 256u);
  const auto last = lines_of(c.file);
  REQUIRE_FALSE(last.empty());
  CHECK(last.back().find("line 39 ") != std::string::npos);
}

TEST_CASE("a log file that cannot be opened is reported, stderr logging still works") {
  TempDir tmp;
  LogConfig c;
  fs::create_directories(tmp.dir / "taken");
  c.file = tmp.dir / "taken";  // a directory
  std::string error;
  CHECK_FALSE(weir::log::setup_logging(c, &error));
  CHECK(error.find("taken") != std::string::npos);
  REQUIRE(spdlog::default_logger() != nullptr);
  spdlog::info("still logging to stderr");
}

TEST_CASE("log: a flow's own level keeps or drops its lines; the others follow the engine") {
  TempDir t;
  LogConfig c;
  c.file = t.dir / "weir.log";
  c.level = LogLevel::info;
  REQUIRE(weir::log::setup_logging(c));
  weir::log::set_flow_level("loud", LogLevel::debug);
  weir::log::set_flow_level("quiet", LogLevel::warn);
  spdlog::debug("[loud/gen] kept: the flow logs debug");
  spdlog::debug("[other/gen] dropped: the engine logs info");
  spdlog::debug("dropped: no flow, the engine's level");
  spdlog::info("[quiet/gen] dropped: the flow logs warn");
  spdlog::warn("[quiet] kept: warn");
  spdlog::info("kept: engine info");
  weir::log::set_flow_level("loud", std::nullopt);  // back to the engine's level
  spdlog::debug("[loud/gen] dropped again");
  weir::log::set_engine_level(LogLevel::debug);  // SIGHUP
  spdlog::debug("[other/gen] kept after the engine went to debug");
  spdlog::info("[quiet/gen] still dropped");
  weir::log::set_flow_level("quiet", std::nullopt);
  std::string all;
  for (const auto& l : lines_of(c.file)) all += l + "\n";
  INFO(all);
  CHECK(all.find("kept: the flow logs debug") != std::string::npos);
  CHECK(all.find("kept: warn") != std::string::npos);
  CHECK(all.find("kept: engine info") != std::string::npos);
  CHECK(all.find("kept after the engine went to debug") != std::string::npos);
  CHECK(all.find("dropped") == std::string::npos);
}
