// The one parse of every record from outside: limits of size, depth and number range, and the
// value an input sends to its error port for what it could not take.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>

#include "sdk/base/json_write.hpp"
#include "sdk/base/record_json.hpp"

using namespace weir;

namespace {

struct Parsed {
  bool ok;
  boost::json::value value;
  std::string reason;
};

Parsed parse(std::string_view text) {
  static sdk::RecordParser parser;
  Parsed p;
  p.ok = parser.parse(text, p.value, p.reason);
  return p;
}

}  // namespace

TEST_CASE("record parse: a record within the limits") {
  auto p = parse(R"({"a": [1, 2.5, "x"], "b": {"c": null}})");
  REQUIRE(p.ok);
  CHECK(p.value.at("a").at(1).as_double() == 2.5);
}

TEST_CASE("record parse: a number beyond a double's range is refused with where it is") {
  for (const char* text : {R"({"v": 1e999})", R"({"v": [0, -1e400]})", R"({"a/b": {"x~": 1e309}})"}) {
    auto p = parse(text);
    CHECK_FALSE(p.ok);
    CHECK_MESSAGE(p.reason.find("number out of range of a double") != std::string::npos, p.reason);
  }
  CHECK(parse(R"({"v": 1e999})").reason.find("\"/v\"") != std::string::npos);
  CHECK(parse(R"({"v": [0, -1e400]})").reason.find("\"/v/1\"") != std::string::npos);
  CHECK(parse(R"({"a/b": {"x~": 1e309}})").reason.find("\"/a~1b/x~0\"") != std::string::npos);
  CHECK(parse("1e-999").ok);  // underflows to 0: representable, kept
}

TEST_CASE("record parse: 10,000 nested brackets are refused, not a crash") {
  auto p = parse(std::string(10000, '[') + std::string(10000, ']'));
  CHECK_FALSE(p.ok);
  CHECK(p.reason == "invalid JSON: nesting deeper than 64 levels");
  auto o = parse(std::string(100000, '{'));
  CHECK_FALSE(o.ok);
  // 64 levels are fine.
  CHECK(parse(std::string(64, '[') + std::string(64, ']')).ok);
}

TEST_CASE("record parse: a record over 1 MiB is refused before the parse") {
  const std::string big = "\"" + std::string(sdk::record_max_bytes, 'x') + "\"";
  auto p = parse(big);
  CHECK_FALSE(p.ok);
  CHECK(p.reason == "record of 1048578 bytes, more than the limit of 1048576");
  CHECK(parse("\"" + std::string(sdk::record_max_bytes - 2, 'x') + "\"").ok);
}

TEST_CASE("record parse: invalid JSON and invalid UTF-8 inside a string") {
  CHECK(parse("not json").reason.rfind("invalid JSON: ", 0) == 0);
  CHECK_FALSE(parse("\"\xFF\"").ok);
}

TEST_CASE("raw_record_value: text stays a string, other bytes are base64, and both are valid JSON") {
  CHECK(sdk::raw_record_value("not json", "invalid JSON: x") == boost::json::value("not json"));
  const std::string garbage("\xFF\xFE\x00\x01\x80 binary\xC3", 13);
  const auto v = sdk::raw_record_value(garbage, "invalid JSON: syntax error");
  REQUIRE(v.is_object());
  CHECK(v.at("raw_base64") == boost::json::value("//4AAYAgYmluYXJ5ww=="));
  CHECK(v.at("reason") == boost::json::value("invalid JSON: syntax error"));
  // What the error port carries reads back as a record.
  auto back = parse(sdk::to_json(v));
  REQUIRE_MESSAGE(back.ok, back.reason);
  CHECK(back.value == v);
}

TEST_CASE("valid_utf8") {
  CHECK(sdk::valid_utf8("plain é ✓ 𝄞"));
  CHECK_FALSE(sdk::valid_utf8("\xC0\xAF"));           // overlong
  CHECK_FALSE(sdk::valid_utf8("\xED\xA0\x80"));       // surrogate
  CHECK_FALSE(sdk::valid_utf8("\xE2\x9C"));           // cut
  CHECK(sdk::valid_utf8(std::string("nul\0ok", 6)));  // NUL is UTF-8 (and escaped on output)
}

TEST_CASE("raw_record_value: a payload too large to keep whole is kept as its head with its size") {
  const auto check_fits = [](const boost::json::value& v) {
    const auto text = sdk::to_json(v);
    CHECK(text.size() < 512 * 1024);
    auto back = parse(text);
    CHECK_MESSAGE(back.ok, back.reason);
  };
  // Text up to 512 KiB stays whole.
  const std::string text(500 * 1024, 'x');
  CHECK(sdk::raw_record_value(text, "r") == boost::json::value(text));
  // Longer text: the first 64 KiB, cut at a character (é is two bytes across the boundary).
  std::string longer(sdk::raw_keep_max_bytes - 1, 'a');
  longer += "é";
  longer += std::string(600 * 1024, 'b');
  auto v = sdk::raw_record_value(longer, "too large");
  REQUIRE(v.is_object());
  CHECK(v.at("raw_head").as_string().size() == sdk::raw_keep_max_bytes - 1);
  CHECK(v.at("raw_bytes") == boost::json::value(longer.size()));
  CHECK(v.at("reason") == boost::json::value("too large"));
  check_fits(v);
  // Control characters take 6 bytes each once escaped: 100 KiB of them is cut too.
  v = sdk::raw_record_value(std::string(100 * 1024, '\x01'), "r");
  REQUIRE(v.is_object());
  CHECK(v.at("raw_head").as_string().size() == sdk::raw_keep_max_bytes);
  check_fits(v);
  // Bytes that are not UTF-8: base64 of the first 64 KiB.
  std::string binary(200 * 1024, '\xFF');
  v = sdk::raw_record_value(binary, "r");
  REQUIRE(v.is_object());
  CHECK(v.at("raw_base64").as_string().size() == (sdk::raw_keep_max_bytes + 2) / 3 * 4);
  CHECK(v.at("raw_bytes") == boost::json::value(binary.size()));
  check_fits(v);
}

TEST_CASE("record passes as a line: exactly the texts parse() takes that hold no line break") {
  sdk::RecordParser p;
  const std::string deep65 = std::string(65, '[') + std::string(65, ']');
  const std::string deep64 = std::string(64, '[') + std::string(64, ']');
  const std::string big(sdk::record_max_bytes + 1 - 2, 'x');
  struct Case {
    std::string text;
    bool passes;
  } cases[] = {
      {R"({"id":1,"value":21.5})", true},
      {R"(  {"a": [1, 2.5e3, -0, "é", null, true]}  )", true},
      {"64", true},
      {R"("a string")", true},
      {deep64, true},
      {"{\"a\":\n1}", false},  // a line break would end the batch line
      {"{\"a\":\r1}", false},
      {R"({"a":1e999})", false},  // not a finite double
      {R"({"a":-1e999})", false},
      {deep65, false},
      {"{\"a\":\"\xff\"}", false},  // not UTF-8
      {R"({"a":1} x)", false},      // extra data
      {R"({"a":1,})", false},
      {"", false},
      {"\"" + big + "\"", false},  // one byte over the record limit
  };
  for (const auto& c : cases) {
    CAPTURE(c.text.substr(0, 80));
    CHECK(p.passes_as_line(c.text) == c.passes);
    // Whatever passes, parse() takes; whatever parse() takes without a line break, passes.
    if (c.passes) CHECK(parse(c.text).ok);
    if (!c.passes && c.text.find_first_of("\r\n") == std::string::npos) CHECK_FALSE(parse(c.text).ok);
  }
}
