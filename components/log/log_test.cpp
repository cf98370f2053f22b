#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "support/component_testing.hpp"

using namespace weir;
using testing::parse_config;

namespace {

// Points spdlog's default logger at a string stream for the lifetime of the capture.
class Capture {
 public:
  explicit Capture(spdlog::level::level_enum engine_level = spdlog::level::info)
      : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_pattern("%l %v");
    logger->set_level(engine_level);
    spdlog::set_default_logger(logger);
  }
  ~Capture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
};

std::string write(const std::string& config, const std::vector<sdk::Record>& records,
                  spdlog::level::level_enum engine_level = spdlog::level::info) {
  Capture capture(engine_level);
  auto out = testing::create<sdk::Output>(parse_config("log", config), testing::test_context("show"));
  REQUIRE(out->start().is_ok());
  sdk::Rejects rejects;
  CHECK(out->write(records, rejects).is_ok());
  CHECK(rejects.items.empty());
  out->stop();
  return capture.text();
}

}  // namespace

TEST_CASE("log: the README example parses") {
  auto p = parse_config("log", R"({"level": "debug", "max_bytes": "1KiB"})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("log: no field is required") {
  auto p = parse_config("log", "{}");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
}

TEST_CASE("log: unknown field, with a hint") {
  auto p = parse_config("log", R"({"levl": "info"})");
  REQUIRE(testing::has_diag(p.diags, "unknown_field", "/components/0/config/levl"));
  CHECK(p.diags.items()[0].hint == "did you mean \"level\"?");
}

TEST_CASE("log: invalid and out-of-range values") {
  auto p = parse_config("log", R"({"level": "eror", "max_bytes": "32MiB"})");
  REQUIRE(testing::has_diag(p.diags, "invalid_value", "/components/0/config/level"));
  CHECK(p.diags.items()[0].hint == "did you mean \"error\"?");
  CHECK(testing::has_diag(p.diags, "out_of_range", "/components/0/config/max_bytes"));
}

TEST_CASE("log: one line per record, prefixed, compact JSON, at the level") {
  auto text = write(R"({"level": "warn"})",
                    {testing::rec(R"({"value": 21.5, "site": "a"})", "1"), testing::rec("[1, 2]", "2")});
  CHECK(text ==
        "warning [test/show] {\"value\":21.5,\"site\":\"a\"}\n"
        "warning [test/show] [1,2]\n");
}

TEST_CASE("log: lines below the engine's level are not written, and still accepted") {
  CHECK(write(R"({"level": "debug"})", {testing::rec(R"({"a": 1})")}) == "");
  CHECK(write(R"({"level": "debug"})", {testing::rec(R"({"a": 1})")}, spdlog::level::debug) ==
        "debug [test/show] {\"a\":1}\n");
}

TEST_CASE("log: long records are cut at max_bytes with a marker") {
  std::string big = R"({"s": ")" + std::string(100, 'x') + "\"}";
  auto text = write(R"({"max_bytes": 20})", {testing::rec(big)});
  CHECK(text == "info [test/show] {\"s\":\"xxxxxxxxxxxxxx... [truncated, 108 bytes]\n");
  CHECK(write(R"({"max_bytes": 0})", {testing::rec(big)}).size() ==
        std::string("info [test/show] \n").size() + 108);
}

TEST_CASE("log: a cut never splits a UTF-8 character") {
  // {"s":"é... : the 2-byte é spans bytes 6 and 7, so a cut at 7 keeps 6 bytes.
  auto text = write(R"({"max_bytes": 7})", {testing::rec(R"({"s": "éé"})")});
  CHECK(text == "info [test/show] {\"s\":\"... [truncated, 12 bytes]\n");
}
