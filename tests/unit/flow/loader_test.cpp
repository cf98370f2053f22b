#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "flow/loader.hpp"
#include "registry/registry.hpp"

using namespace weir;
namespace fs = std::filesystem;

namespace {

const char* env(const char* name) {
  if (std::string(name) == "LIMIT") return "50";
  if (std::string(name) == "EMPTY") return "";
  return nullptr;
}

flow::LoadResult load(const std::string& text) {
  return flow::load_flow_text(text, "t.json", registry::builtins(), env);
}

bool has(const flow::LoadResult& r, const std::string& code, const std::string& pointer) {
  for (const auto& d : r.diagnostics.items())
    if (d.code == code && d.pointer == pointer) return true;
  return false;
}

const std::string head = R"({"version": 1, "name": "t", "components": [)";

}  // namespace

TEST_CASE("a minimal flow loads with defaults") {
  auto r = load(head + R"({"id": "gen", "type": "generate"},
    {"id": "hot", "type": "json_filter", "inputs": ["gen"], "config": {"where": "value > 1"}},
    {"id": "out", "type": "log", "inputs": ["hot"]}]})");
  REQUIRE_MESSAGE(r.flow.has_value(), r.diagnostics.size());
  const auto& f = *r.flow;
  CHECK(f.name == "t");
  CHECK(f.enabled);
  CHECK(f.settings.max_deliver == 5);
  CHECK(f.settings.fuse);
  REQUIRE(f.components.size() == 3);
  CHECK(f.components[1].inputs[0].component == "gen");
  CHECK(f.components[1].inputs[0].port == "out");
  CHECK(f.components[1].fingerprint.size() == 16);
}

TEST_CASE("${VAR} is substituted, $${ escapes, unset is an error") {
  auto r = load(head + R"({"id": "gen", "type": "generate"},
    {"id": "hot", "type": "json_filter", "inputs": ["gen"], "config": {"where": "value > ${LIMIT}"}},
    {"id": "out", "type": "log", "inputs": ["hot"], "description": "costs $${LIMIT}"}]})");
  REQUIRE(r.flow.has_value());
  CHECK(r.flow->components[1].raw_config.at("where").as_string() == "value > 50");
  CHECK(r.flow->components[2].description == "costs ${LIMIT}");

  auto bad = load(head + R"({"id": "gen", "type": "generate", "description": "x ${NOPE} y"}]})");
  REQUIRE(has(bad, "unset_variable", "/components/0/description"));
  CHECK(bad.diagnostics.items()[0].column == 96);  // the "$" of "${NOPE}": 0-based offset 95 on the line
  auto empty_is_set = load(head + R"({"id": "gen", "type": "generate", "description": "${EMPTY}"}]})");
  CHECK(empty_is_set.flow.has_value());
  auto malformed = load(head + R"({"id": "gen", "type": "generate", "description": "${1x}"}]})");
  CHECK(has(malformed, "invalid_variable", "/components/0/description"));
}

TEST_CASE("${VAR:-default} takes the default when VAR is unset or empty") {
  auto r = load(
      head +
      R"({"id": "gen", "type": "generate", "description": "${NOPE:-ws://hub:8765/bridge} ${EMPTY:-e} ${LIMIT:-9} ${NOPE:-}."}]})");
  REQUIRE(r.flow.has_value());
  CHECK(r.flow->components[0].description == "ws://hub:8765/bridge e 50 .");
  auto malformed = load(head + R"({"id": "gen", "type": "generate", "description": "${:-x}"}]})");
  CHECK(has(malformed, "invalid_variable", "/components/0/description"));
}

TEST_CASE("graph rules") {
  auto r = load(head + R"({"id": "gen", "type": "generate", "inputs": ["x"]},
    {"id": "f", "type": "json_filter", "config": {"where": "true"}},
    {"id": "g", "type": "json_filter", "inputs": ["gen.nope", "ghost", "h"], "config": {"where": "true"}},
    {"id": "h", "type": "json_filter", "inputs": ["g"], "config": {"where": "true"}}]})");
  CHECK(has(r, "unexpected_inputs", "/components/0/inputs"));
  CHECK(has(r, "missing_inputs", "/components/1"));
  CHECK(has(r, "unknown_port", "/components/2/inputs/0"));
  CHECK(has(r, "unknown_input", "/components/2/inputs/1"));
  CHECK(has(r, "cycle", "/components/2/inputs/2"));
  CHECK_FALSE(r.flow.has_value());
}

TEST_CASE("settings against each other and against a nats_input's ack_wait") {
  auto flow = [](const std::string& settings, const std::string& input_config) {
    const std::string components = R"([{"id": "src", "type": "nats_input", "config": )" + input_config +
                                   R"(}, {"id": "out", "type": "log", "inputs": ["src"]}])";
    return load(R"({"version": 1, "name": "t", "settings": )" + settings + R"(, "components": )" +
                components + "}");
  };
  const std::string stream = R"({"subject": "s.>", "stream": "S", "ack_wait": "10s"})";
  auto count = [](const flow::LoadResult& r) { return r.diagnostics.size(); };

  // The defaults (2m window, 10s ack_wait), the limits themselves and max_age 0 are fine.
  CHECK(count(flow("{}", stream)) == 0);
  CHECK(count(flow(R"({"max_age": "2m"})", stream)) == 0);
  CHECK(count(flow(R"({"max_age": "0s", "duplicate_window": "24h"})", stream)) == 0);
  CHECK(count(flow(R"({"duplicate_window": "20s", "ack_wait": "10s"})", stream)) == 0);

  auto refused = flow(R"({"max_age": "1m59s"})", stream);
  CHECK(has(refused, "inconsistent_settings", "/settings/max_age"));
  CHECK_FALSE(refused.flow.has_value());

  auto short_window = flow(R"({"duplicate_window": "19s", "ack_wait": "10s"})", stream);
  CHECK(has(short_window, "short_duplicate_window", "/settings/duplicate_window"));
  REQUIRE(short_window.flow.has_value());  // a warning: the flow still loads and runs
  CHECK(short_window.diagnostics.items()[0].severity == sdk::Severity::warning);
  CHECK(short_window.diagnostics.items()[0].hint.find("at least 20s") != std::string::npos);

  // The input's ack_wait: at most half the window, and only with a stream (a core subscription
  // has no redelivery).
  CHECK(count(flow(R"({"duplicate_window": "1m"})",
                   R"({"subject": "s.>", "stream": "S", "ack_wait": "30s"})")) == 0);
  auto slow =
      flow(R"({"duplicate_window": "1m"})", R"({"subject": "s.>", "stream": "S", "ack_wait": "31s"})");
  CHECK(has(slow, "short_duplicate_window", "/components/0/config/ack_wait"));
  CHECK(slow.flow.has_value());
  CHECK(count(flow(R"({"duplicate_window": "1m"})", R"({"subject": "s.>", "ack_wait": "31s"})")) == 0);

  // A setting that did not parse keeps its default: no cross-check on it.
  auto bad = flow(R"({"max_age": "1m", "duplicate_window": "forever"})", stream);
  CHECK(has(bad, "invalid_value", "/settings/duplicate_window"));
  CHECK_FALSE(has(bad, "inconsistent_settings", "/settings/max_age"));
}

TEST_CASE("a directory with a broken flow still yields the good one") {
  auto dir = fs::temp_directory_path() / ("weir-loader-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a.json") << head + R"({"id": "gen", "type": "generate"}]})";
  std::ofstream(dir / "b.json") << R"({"name": "b", "components": [}})";
  std::ofstream(dir / "c.json") << head + R"({"id": "gen2", "type": "generate"}]})";  // same name "t"
  std::ofstream(dir / "notes.txt") << "not a flow";
  auto results = flow::load_flow_dir(dir, registry::builtins(), env);
  fs::remove_all(dir);
  REQUIRE(results.size() == 3);
  CHECK(results[0].flow.has_value());
  CHECK_FALSE(results[1].flow.has_value());
  CHECK(results[1].diagnostics.items()[0].code == "json_syntax");
  CHECK_FALSE(results[2].flow.has_value());
  CHECK(results[2].diagnostics.items()[0].code == "duplicate_flow");
}

TEST_CASE("a symlink loop named x.json is a diagnostic for that file; the other flows load") {
  auto dir = fs::temp_directory_path() / ("weir-loader-loop-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::create_symlink("x.json", dir / "x.json");             // x.json -> x.json
  fs::create_symlink("missing.json", dir / ".#lock.json");  // an editor's dangling lock link
  fs::create_directories(dir / "sub.json");                 // a folder is no flow
  std::ofstream(dir / "a.json") << head + R"({"id": "gen", "type": "generate"}]})";
  std::vector<flow::LoadResult> results;
  CHECK_NOTHROW(results = flow::load_flow_dir(dir, registry::builtins(), env));
  fs::remove_all(dir);
  REQUIRE(results.size() == 2);
  CHECK(results[0].flow.has_value());
  REQUIRE_FALSE(results[1].flow.has_value());
  const auto& d = results[1].diagnostics.items().at(0);
  CHECK(d.code == "io_error");
  CHECK(d.file == (dir / "x.json").string());
  CHECK(d.message.find("symbolic links") != std::string::npos);
}

TEST_CASE("a flow file over 1 MiB is refused unread, naming the file and the limit") {
  auto dir = fs::temp_directory_path() / ("weir-loader-big-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto big = dir / "big.json";
  {
    std::ofstream out(big);
    out << R"({"name": "big", "description": ")";
  }
  // 50 MB that are never written: a sparse file, so the test costs no disk.
  fs::resize_file(big, 50u << 20);
  auto r = flow::load_flow_file(big, registry::builtins(), env);
  auto text = flow::load_flow_text(std::string(flow::max_flow_file_bytes + 1, ' '), "api.json",
                                   registry::builtins(), env);
  fs::remove_all(dir);
  REQUIRE_FALSE(r.flow.has_value());
  REQUIRE(r.diagnostics.size() == 1);
  const auto& d = r.diagnostics.items()[0];
  CHECK(d.code == "file_too_large");
  CHECK(d.file == big.string());
  CHECK(d.message.find("52428800") != std::string::npos);
  CHECK(d.message.find("1048576 bytes (1 MiB)") != std::string::npos);
  CHECK(r.text.empty());
  REQUIRE(text.diagnostics.size() == 1);
  CHECK(text.diagnostics.items()[0].code == "file_too_large");
}
