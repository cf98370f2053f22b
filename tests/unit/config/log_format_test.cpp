// The JSON log formatter (prefix lifting, escaping) and URL redaction, in the formatter and in
// the loggers setup_logging() installs.
#include <doctest/doctest.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "log/json_formatter.hpp"
#include "log/redact.hpp"
#include "log/setup.hpp"

namespace {

boost::json::object format(std::string_view payload, spdlog::level::level_enum level = spdlog::level::info,
                           std::string_view logger = {}) {
  weir::log::JsonFormatter f;
  spdlog::details::log_msg msg(spdlog::string_view_t(logger.data(), logger.size()), level,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  f.format(msg, out);
  const std::string line(out.data(), out.size());
  CAPTURE(line);
  REQUIRE(!line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  return boost::json::parse(line).as_object();
}

std::vector<std::string> keys(const boost::json::object& o) {
  std::vector<std::string> out;
  for (const auto& kv : o) out.emplace_back(kv.key());
  return out;
}

}  // namespace

TEST_CASE("a [flow/component] prefix becomes fields, in a fixed order") {
  const auto o = format("[site-a/hot] 12 records to the error port", spdlog::level::warn);
  CHECK(keys(o) == std::vector<std::string>{"ts", "level", "flow", "component", "msg"});
  CHECK(o.at("level").as_string() == "warn");
  CHECK(o.at("flow").as_string() == "site-a");
  CHECK(o.at("component").as_string() == "hot");
  CHECK(o.at("msg").as_string() == "12 records to the error port");
}

TEST_CASE("a [flow] prefix gives a flow and no component") {
  const auto o = format("[demo] deployed: 3 stages");
  CHECK(keys(o) == std::vector<std::string>{"ts", "level", "flow", "msg"});
  CHECK(o.at("flow").as_string() == "demo");
  CHECK(o.at("msg").as_string() == "deployed: 3 stages");
  const auto bare = format("[demo]");
  CHECK(bare.at("flow").as_string() == "demo");
  CHECK(bare.at("msg").as_string() == "");
}

TEST_CASE("lines without a prefix keep their whole message") {
  for (const char* text : {"weir running: 1/1 flows up", "nats [weir]: connected to nats://h:4222",
                           "[] empty", "[a/b]glued", "[a b] spaced", "[a/b/c] two slashes", "[/x] no flow",
                           "[x/] no component", "[unclosed", "", "[\"q\"] quoted"}) {
    CAPTURE(text);
    const auto o = format(text);
    CHECK(keys(o) == std::vector<std::string>{"ts", "level", "msg"});
    CHECK(o.at("msg").as_string() == text);
  }
}

TEST_CASE("escaping: quotes, control characters and UTF-8 survive, prefix or not") {
  const auto o = format("[f/c] said \"hi\"\n\tand \\ caf\xC3\xA9 \x01");
  CHECK(o.at("flow").as_string() == "f");
  CHECK(o.at("msg").as_string() == "said \"hi\"\n\tand \\ caf\xC3\xA9 \x01");
  const auto plain = format("no \"prefix\"\r\n");
  CHECK(plain.at("msg").as_string() == "no \"prefix\"\r\n");
}

TEST_CASE("a named logger adds its name after the message") {
  const auto o = format("[f/c] x", spdlog::level::err, "bridge");
  CHECK(keys(o) == std::vector<std::string>{"ts", "level", "flow", "component", "msg", "logger"});
  CHECK(o.at("level").as_string() == "error");
  CHECK(o.at("logger").as_string() == "bridge");
}

TEST_CASE("split_prefix") {
  auto p = weir::log::split_prefix("[a_1/b-2] rest of it");
  REQUIRE(p);
  CHECK(p->flow == "a_1");
  CHECK(p->component == "b-2");
  CHECK(p->rest == "rest of it");
  CHECK_FALSE(weir::log::split_prefix("x [a/b] later"));
}

TEST_CASE("redact_url masks passwords and tokens, and nothing else") {
  using weir::log::redact_url;
  CHECK(redact_url("nats://bob:s3cret@hub:4222") == "nats://bob:***@hub:4222");
  CHECK(redact_url("nats://t0k3n@hub:4222") == "nats://***@hub:4222");
  CHECK(redact_url("nats://hub:4222") == "nats://hub:4222");
  CHECK(redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222");
  CHECK(redact_url("") == "");
  CHECK(redact_url("bob:pw@hub:4222") == "bob:***@hub:4222");
  CHECK(redact_url("tls://u:p@a:4222,nats://b:4222,nats://v:q@c") ==
        "tls://u:***@a:4222,nats://b:4222,nats://v:***@c");
  // An '@' in the password, and one after the host (in a path) that is not user info.
  CHECK(redact_url("wss://u:p@ss@hub/in?x=a@b") == "wss://u:***@hub/in?x=a@b");
  CHECK(redact_url("wss://hub/in@x") == "wss://hub/in@x");
  CHECK(redact_url("nats://u:@hub") == "nats://u:***@hub");
}

TEST_CASE("redact_urls masks every URL in free text and reports whether it did") {
  using weir::log::redact_urls;
  std::string out = "untouched";
  CHECK_FALSE(redact_urls("connected to nats://hub:4222 at last", out));
  CHECK_FALSE(redact_urls("mail bob@example.com, no scheme", out));
  CHECK(out == "untouched");
  REQUIRE(redact_urls("nats connect to nats://u:pw@127.0.0.1:1: No server available", out));
  CHECK(out == "nats connect to nats://u:***@127.0.0.1:1: No server available");
  REQUIRE(redact_urls("\"wss://t0k@hub/in\" and tls://a:b@c:1,nats://d:e@f", out));
  CHECK(out == "\"wss://***@hub/in\" and tls://a:***@c:1,nats://d:***@f");
  REQUIRE(redact_urls("nats://x:y@h", out));
  CHECK(out == "nats://x:***@h");
}

TEST_CASE("the installed loggers mask URL passwords in both formats") {
  char tmpl[] = "/tmp/weir_log_format_XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir = tmpl;
  for (auto format : {weir::config::LogFormat::text, weir::config::LogFormat::json}) {
    weir::config::LogConfig c;
    c.format = format;
    c.file = dir / (format == weir::config::LogFormat::json ? "json.log" : "text.log");
    REQUIRE(weir::log::setup_logging(c));
    spdlog::warn("nats [weir]: nats connect to {}: refused", "nats://bob:s3cret@hub:4222");
    spdlog::info("[f/c] connecting to wss://user:pa55@hub:9000/bridge");
    spdlog::default_logger()->flush();
    std::ifstream in(c.file);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    CAPTURE(text);
    CHECK(text.find("s3cret") == std::string::npos);
    CHECK(text.find("pa55") == std::string::npos);
    CHECK(text.find("nats://bob:***@hub:4222: refused") != std::string::npos);
    CHECK(text.find("wss://user:***@hub:9000/bridge") != std::string::npos);
  }
  weir::log::setup_logging(weir::config::LogConfig{});  // let go of the files
  std::filesystem::remove_all(dir);
}
