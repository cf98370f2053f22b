// Every diagnostic the engine config can produce, with its pointer and file position.
#include <doctest/doctest.h>

#include "config/engine_config.hpp"
#include "sdk/diagnostic.hpp"

using namespace weir::config;

namespace {

std::vector<weir::sdk::Diagnostic> diagnose(const std::string& text, EngineConfig* out = nullptr) {
  EngineConfig c = default_engine_config();
  weir::sdk::Diagnostics ds;
  apply_engine_config_json(c, text, "weir.json", "/etc/weir", ds);
  for (const auto& d : ds.items()) CHECK(d.file == "weir.json");
  if (out) *out = c;
  return ds.items();
}

// "code pointer line:col"
std::string brief(const weir::sdk::Diagnostic& d) {
  return d.code + " " + (d.pointer.empty() ? "/" : d.pointer) + " " + std::to_string(d.line) + ":" +
         std::to_string(d.column);
}

}  // namespace

TEST_CASE("unknown fields point at the key, with did-you-mean") {
  const auto ds = diagnose(
      "{\n"
      "  \"flow_dir\": \"x\",\n"
      "  \"nats\": { \"embeded\": { \"port\": 1 }, \"urls\": \"\" },\n"
      "  \"log\": { \"levle\": \"info\", \"colour\": true }\n"
      "}");
  REQUIRE(ds.size() == 5);
  CHECK(brief(ds[0]) == "unknown_field /flow_dir 2:3");
  CHECK(ds[0].hint == "did you mean \"flows_dir\"?");
  CHECK(ds[0].message == "unknown field \"flow_dir\"");
  CHECK(brief(ds[1]) == "unknown_field /nats/embeded 3:13");
  CHECK(ds[1].hint == "did you mean \"embedded\"?");
  CHECK(brief(ds[2]) == "unknown_field /nats/urls 3:39");
  CHECK(ds[2].hint == "did you mean \"url\"?");
  CHECK(brief(ds[3]) == "unknown_field /log/levle 4:12");
  CHECK(ds[3].hint == "did you mean \"level\"?");
  CHECK(brief(ds[4]) == "unknown_field /log/colour 4:29");
  CHECK(ds[4].hint.empty());
}

TEST_CASE("wrong types point at the value") {
  EngineConfig c;
  const auto ds = diagnose(
      "{\n"
      "  \"nats\": { \"url\": 5, \"embedded\": { \"port\": \"4222\" } },\n"
      "  \"http\": [],\n"
      "  \"log\": { \"max_files\": 2.5, \"max_size\": true, \"file\": null },\n"
      "  \"shutdown_timeout\": 10\n"
      "}",
      &c);
  REQUIRE(ds.size() == 7);
  CHECK(brief(ds[0]) == "wrong_type /nats/url 2:20");
  CHECK(ds[0].message == "must be a string, got a number");
  CHECK(brief(ds[1]) == "wrong_type /nats/embedded/port 2:45");
  CHECK(ds[1].hint == "write the number without quotes");
  CHECK(brief(ds[2]) == "wrong_type /http 3:11");
  CHECK(ds[2].message == "must be an object");
  CHECK(brief(ds[3]) == "wrong_type /log/max_files 4:25");
  CHECK(brief(ds[4]) == "wrong_type /log/max_size 4:42");
  CHECK(brief(ds[5]) == "wrong_type /log/file 4:56");
  CHECK(brief(ds[6]) == "wrong_type /shutdown_timeout 5:23");
  CHECK(ds[6].hint == "e.g. \"10s\"");
  CHECK(c.nats.embedded.port == 4222);  // unchanged
}

TEST_CASE("bad values and ranges") {
  EngineConfig c;
  const auto ds = diagnose(
      "{\n"
      "  \"nats\": { \"embedded\": { \"port\": 70000, \"binary\": \"\" } },\n"
      "  \"flows_dir\": \"\",\n"
      "  \"http\": { \"listen\": \"localhost\" },\n"
      "  \"log\": { \"level\": \"verbose\", \"format\": \"xml\", \"max_size\": \"10MB/s\",\n"
      "           \"max_files\": 0 },\n"
      "  \"shutdown_timeout\": \"-5s\"\n"
      "}",
      &c);
  REQUIRE(ds.size() == 9);
  CHECK(brief(ds[0]) == "out_of_range /nats/embedded/port 2:35");
  CHECK(ds[0].message == "must be 1..65535, got 70000");
  CHECK(brief(ds[1]) == "invalid_value /nats/embedded/binary 2:52");
  CHECK(brief(ds[2]) == "invalid_value /flows_dir 3:16");
  CHECK(ds[2].message == "must not be empty");
  CHECK(brief(ds[3]) == "invalid_value /http/listen 4:23");
  CHECK(ds[3].message == "must be host:port, got \"localhost\"");
  CHECK(brief(ds[4]) == "invalid_value /log/level 5:21");
  CHECK(ds[4].message == "must be one of: trace, debug, info, warn, error, off, got \"verbose\"");
  CHECK(ds[4].hint == "one of: trace, debug, info, warn, error, off");
  CHECK(brief(ds[5]) == "invalid_value /log/format 5:42");
  CHECK(ds[5].hint == "one of: text, json");
  CHECK(brief(ds[6]) == "invalid_value /log/max_size 5:61");
  CHECK(ds[6].message.find("unknown unit") != std::string::npos);
  CHECK(brief(ds[7]) == "out_of_range /log/max_files 6:25");
  CHECK(brief(ds[8]) == "invalid_value /shutdown_timeout 7:23");
  CHECK(ds[8].message.find("negative") != std::string::npos);
  CHECK(c.log.level == LogLevel::info);
  CHECK(c.shutdown_timeout == std::chrono::seconds{10});
}

TEST_CASE("sizes: strings, or a plain number of bytes") {
  EngineConfig c;
  CHECK(diagnose(R"({"log": {"max_size": "64KiB"}})", &c).empty());
  CHECK(c.log.max_size == 65536u);
  CHECK(diagnose(R"({"log": {"max_size": 4096}})", &c).empty());
  CHECK(c.log.max_size == 4096u);
  auto ds = diagnose(R"({"log": {"max_size": -1}})");
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].code == "invalid_value");
  ds = diagnose(R"({"log": {"max_size": "0B"}})");
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].code == "out_of_range");
}

TEST_CASE("document-level problems") {
  auto ds = diagnose("[1, 2]");
  REQUIRE(ds.size() == 1);
  CHECK(brief(ds[0]) == "wrong_type / 1:1");

  ds = diagnose("{\n  \"flows_dir\": \"a\",\n}");
  REQUIRE(ds.size() == 1);
  CHECK(brief(ds[0]) == "json_syntax / 2:19");

  EngineConfig c;
  ds = diagnose("{\"flows_dir\": \"a\",\n \"flows_dir\": \"b\"}", &c);
  REQUIRE(ds.size() == 1);
  CHECK(brief(ds[0]) == "duplicate_key /flows_dir 2:2");
  CHECK(c.flows_dir == "/etc/weir/b");
}

TEST_CASE("hostile documents: deep nesting, bytes that are not UTF-8, control characters") {
  // The engine config goes through the flow files' parser: the same 64 levels, the same UTF-8
  // check, every quoted value escaped and cut.
  std::string deep = "{\"log\": ";
  for (int i = 0; i < 70; ++i) deep += "[";
  for (int i = 0; i < 70; ++i) deep += "]";
  deep += "}";
  auto ds = diagnose(deep);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].code == "json_syntax");
  CHECK(ds[0].message == "nesting deeper than 64 levels");

  ds = diagnose("{\"flows_dir\": \"a\xff\xfe\"}");
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].code == "json_syntax");
  CHECK(ds[0].message.find("invalid UTF-8") != std::string::npos);

  // A key with a terminal escape and a value of 200,000 characters: the diagnostic is printable
  // and short.
  ds =
      diagnose("{\"\\u001b]0;owned\\u0007\": 1, \"log\": {\"level\": \"" + std::string(200000, 'x') + "\"}}");
  REQUIRE(ds.size() == 2);
  CHECK(ds[0].code == "unknown_field");
  CHECK(ds[1].code == "invalid_value");
  for (const auto& d : ds) {
    const std::string text = weir::sdk::format(d);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
    CHECK(text.size() < 1000);
  }
  CHECK(weir::sdk::format(ds[0]).find("\\u001b]0;owned\\u0007") != std::string::npos);
}

TEST_CASE("set_option, as command-line flags use it") {
  EngineConfig c = default_engine_config();
  std::string error;
  CHECK(set_option(c, "log.level", "trace", &error));
  CHECK(c.log.level == LogLevel::trace);
  CHECK(set_option(c, "nats.embedded.port", "4999", &error));
  CHECK(c.nats.embedded.port == 4999);
  CHECK(set_option(c, "data_dir", "d", &error));
  CHECK(c.data_dir == std::filesystem::current_path() / "d");
  CHECK(set_option(c, "shutdown_timeout", "250ms", &error));
  CHECK(c.shutdown_timeout == std::chrono::milliseconds{250});

  CHECK_FALSE(set_option(c, "log.levle", "info", &error));
  CHECK(error == "unknown option \"log.levle\" (did you mean \"log.level\"?)");
  CHECK_FALSE(set_option(c, "nats", "x", &error));
  CHECK_FALSE(set_option(c, "nats.embedded.port", "0", &error));
  CHECK(error == "nats.embedded.port: must be 1..65535, got 0");
  CHECK_FALSE(set_option(c, "nats.embedded.port", "99999999999999999999", &error));
  CHECK(error == "nats.embedded.port: must be 1..65535, got 99999999999999999999");
  CHECK_FALSE(set_option(c, "nats.embedded.port", "12ab", &error));
  CHECK(c.nats.embedded.port == 4999);

  // A value from a shell may hold anything: the error quotes it escaped and cut.
  const std::string hostile = "\x1b[2J\r" + std::string(100000, '9') + "\x07";
  for (const char* key : {"log.level", "nats.embedded.port", "shutdown_timeout", "http.listen"}) {
    CAPTURE(key);
    CHECK_FALSE(set_option(c, key, hostile, &error));
    CHECK(error.find('\x1b') == std::string::npos);
    CHECK(error.find('\r') == std::string::npos);
    CHECK(error.find('\x07') == std::string::npos);
    CHECK(error.size() < 1000);
  }
  CHECK_FALSE(set_option(c, "nats.embedded.port", "99999999999999999999\x1b", &error));
  CHECK(error == "nats.embedded.port: must be 1..65535, got 99999999999999999999\\u001b");
}

TEST_CASE("engine_options lists every option with its variable") {
  const auto opts = engine_options();
  REQUIRE(opts.size() == 18);
  CHECK(opts[0].key == "nats.url");
  CHECK(opts[0].env == "WEIR_NATS_URL");
  for (const auto& o : opts) {
    CHECK_FALSE(o.doc.empty());
    CHECK(o.env.rfind("WEIR_", 0) == 0);
    CHECK(o.secret == (o.key == "nats.password" || o.key == "nats.token" || o.key == "http.token"));
  }
}

TEST_CASE("dump_engine_config redacts secrets and reads back") {
  EngineConfig c = default_engine_config();
  c.nats.password = "hunter2";
  c.http.token = "abc";
  c.log.max_size = 5ull << 20;
  c.shutdown_timeout = std::chrono::milliseconds{1500};
  const std::string dumped = dump_engine_config(c);
  CHECK(dumped.find("hunter2") == std::string::npos);
  CHECK(dumped.find("\"password\":\"***\"") != std::string::npos);
  CHECK(dumped.find("\"token\":\"\"") != std::string::npos);  // nats.token is empty: shown so
  CHECK(dumped.find("\"max_size\":\"5MiB\"") != std::string::npos);
  CHECK(dumped.find("\"shutdown_timeout\":\"1.5s\"") != std::string::npos);

  EngineConfig back = default_engine_config();
  weir::sdk::Diagnostics ds;
  apply_engine_config_json(back, dumped, "dump", "/", ds);
  CHECK(ds.empty());
  CHECK(dump_engine_config(back) == dumped);
  CHECK(back.log.max_size == c.log.max_size);
  CHECK(back.shutdown_timeout == c.shutdown_timeout);
}
