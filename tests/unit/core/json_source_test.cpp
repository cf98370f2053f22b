#include "core/json_source.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>

using weir::core::parse_json_source;
using weir::core::Position;

namespace {

// Each line is written out so the expected columns can be counted by eye.
const std::string doc =
    "{\n"
    "  \"name\": \"site-a\",\n"
    "  \"a/b\": {\"m~n\": [1, 2]},\n"
    "  \"components\": [\n"
    "    { \"id\": \"hot\", \"config\": { \"where\": \"value > 50 && \\\"x\\\" == site\" } }\n"
    "  ],\n"
    "\t\"tab\": true,\n"
    "  \"\xC3\xA9\": \"\xC3\xBC\xE2\x82\xACx\",\n"
    "  \"esc\": \"\\u00e9\\ud83d\\ude00z\",\n"
    "  \"k\\u0065y\": null\n"
    "}\n";

Position pos(int line, int column) {
  return {line, column};
}

weir::sdk::Diagnostic syntax_error(const std::string& text) {
  auto parsed = parse_json_source(text);
  REQUIRE_FALSE(parsed.ok);
  REQUIRE(parsed.diagnostics.size() == 1);
  CHECK(parsed.diagnostics.items()[0].code == "json_syntax");
  CHECK(parsed.value.is_null());
  return parsed.diagnostics.items()[0];
}

}  // namespace

TEST_CASE("positions of values and keys") {
  const auto parsed = parse_json_source(doc);
  REQUIRE(parsed.ok);
  CHECK(parsed.diagnostics.empty());
  CHECK(parsed.value.at("name").as_string() == "site-a");
  const auto& m = parsed.map;
  CHECK(m.value_position("") == pos(1, 1));
  CHECK(m.value_position("/name") == pos(2, 11));
  CHECK(m.key_position("/name") == pos(2, 3));
  CHECK(m.value_position("/a~1b") == pos(3, 10));
  CHECK(m.key_position("/a~1b/m~0n") == pos(3, 11));
  CHECK(m.value_position("/a~1b/m~0n") == pos(3, 18));
  CHECK(m.value_position("/a~1b/m~0n/0") == pos(3, 19));
  CHECK(m.value_position("/a~1b/m~0n/1") == pos(3, 22));
  CHECK(m.value_position("/components") == pos(4, 17));
  CHECK(m.value_position("/components/0") == pos(5, 5));
  CHECK(m.key_position("/components/0") == pos(5, 5));  // array element: no key
  CHECK(m.value_position("/components/0/id") == pos(5, 13));
  CHECK(m.key_position("/components/0/config") == pos(5, 20));
  CHECK(m.value_position("/components/0/config") == pos(5, 30));
  CHECK(m.key_position("/components/0/config/where") == pos(5, 32));
  CHECK(m.value_position("/components/0/config/where") == pos(5, 41));
  CHECK(m.key_position("/tab") == pos(7, 2));  // a tab is one column
  CHECK(m.value_position("/tab") == pos(7, 9));
  CHECK(m.key_position("/\xC3\xA9") == pos(8, 3));
  CHECK(m.value_position("/\xC3\xA9") == pos(8, 8));  // "é" is one column
  CHECK(m.value_position("/esc") == pos(9, 10));
  CHECK(m.key_position("/key") == pos(10, 3));  // escaped member name, decoded in the pointer
  CHECK(m.value_position("/key") == pos(10, 15));
  CHECK(m.contains("/key"));
  CHECK_FALSE(m.contains("/k\\u0065y"));
}

TEST_CASE("a missing pointer resolves to its nearest existing ancestor") {
  const auto parsed = parse_json_source(doc);
  const auto& m = parsed.map;
  CHECK_FALSE(m.contains("/components/0/config/batch"));
  CHECK(m.value_position("/components/0/config/batch") == pos(5, 30));
  CHECK(m.key_position("/components/0/config/batch") == pos(5, 30));
  CHECK(m.value_position("/components/7/inputs/0") == pos(4, 17));
  CHECK(m.value_position("/a~1b/m~0n/5") == pos(3, 18));
  CHECK(m.value_position("/nope") == pos(1, 1));
  CHECK(m.value_position("/a/b") == pos(1, 1));  // "/a/b" is not "/a~1b"
}

TEST_CASE("locate fills file, line and column") {
  const auto parsed = parse_json_source(doc);
  weir::sdk::Diagnostics ds;
  ds.error("/components/0/config/where", "unknown_field", "unknown field");
  ds.error("/components/0/config/where", "invalid_value", "bad");
  ds.error("/components/0/config/batch", "missing_field", "missing");
  weir::sdk::Diagnostic preset;
  preset.pointer = "/name";
  preset.line = 99;
  preset.column = 7;
  ds.add(preset);
  parsed.map.locate(ds, "flows/a.json");
  const auto& items = ds.items();
  CHECK(items[0].file == "flows/a.json");
  CHECK(Position{items[0].line, items[0].column} == pos(5, 32));  // unknown: at the key
  CHECK(Position{items[1].line, items[1].column} == pos(5, 41));
  CHECK(Position{items[2].line, items[2].column} == pos(5, 30));
  CHECK(items[3].file == "flows/a.json");
  CHECK(Position{items[3].line, items[3].column} == pos(99, 7));  // already placed: kept
  CHECK(weir::sdk::format(items[2]) ==
        "flows/a.json:5:30: error[missing_field] /components/0/config/batch: missing");
}

TEST_CASE("offsets inside strings count escapes as written") {
  const auto parsed = parse_json_source(doc);
  auto at = [&](const char* pointer, int offset) {
    weir::sdk::Diagnostic d;
    d.pointer = pointer;
    d.offset = offset;
    parsed.map.locate(d, "f.json");
    return Position{d.line, d.column};
  };
  // Decoded: value > 50 && "x" == site
  CHECK(at("/components/0/config/where", 0) == pos(5, 42));
  CHECK(at("/components/0/config/where", 14) == pos(5, 56));    // the \" before x
  CHECK(at("/components/0/config/where", 15) == pos(5, 58));    // x
  CHECK(at("/components/0/config/where", 21) == pos(5, 65));    // site
  CHECK(at("/components/0/config/where", 1000) == pos(5, 69));  // clamped to the closing quote
  // Decoded bytes: ü (2) € (3) x: x is the third character.
  CHECK(at("/\xC3\xA9", 5) == pos(8, 11));
  // \u00e9 (2 bytes), a surrogate pair (4 bytes), then z.
  CHECK(at("/esc", 2) == pos(9, 17));
  CHECK(at("/esc", 6) == pos(9, 29));
  // Not a string: the offset is ignored.
  CHECK(at("/tab", 3) == pos(7, 9));
}

TEST_CASE("duplicate keys are reported at the later key; the last value wins") {
  const auto parsed = parse_json_source(
      "{\"a\": 1,\n"
      " \"b\": {\"x\": 1},\n"
      " \"a\": 2,\n"
      " \"b\": {\"y\": 2}}");
  REQUIRE(parsed.ok);
  REQUIRE(parsed.diagnostics.size() == 2);
  const auto& d0 = parsed.diagnostics.items()[0];
  CHECK(d0.code == "duplicate_key");
  CHECK(d0.pointer == "/a");
  CHECK(Position{d0.line, d0.column} == pos(3, 2));
  const auto& d1 = parsed.diagnostics.items()[1];
  CHECK(d1.pointer == "/b");
  CHECK(Position{d1.line, d1.column} == pos(4, 2));
  CHECK(parsed.diagnostics.has_errors());
  CHECK(parsed.value.at("a").as_int64() == 2);
  CHECK(parsed.map.value_position("/a") == pos(3, 7));
  CHECK_FALSE(parsed.map.contains("/b/x"));
  CHECK(parsed.map.contains("/b/y"));
}

TEST_CASE("syntax errors: line, column, pointer and a clear message") {
  auto d = syntax_error("{\n  \"a\": 1,\n}");
  CHECK(Position{d.line, d.column} == pos(2, 9));
  CHECK(d.message.find("trailing comma") != std::string::npos);

  d = syntax_error("{\n  \"a\" 1\n}");
  CHECK(Position{d.line, d.column} == pos(2, 7));
  CHECK(d.message == "expected ':' after the member name, found '1'");

  d = syntax_error("{\"a\": tru}");
  CHECK(Position{d.line, d.column} == pos(1, 7));
  CHECK(d.pointer == "/a");
  CHECK(d.message == "invalid value \"tru\"");

  d = syntax_error("{\"a\": [1, -]}");
  CHECK(Position{d.line, d.column} == pos(1, 11));
  CHECK(d.pointer == "/a/1");
  CHECK(d.message == "invalid value \"-\"");

  d = syntax_error("[1,\n2");
  CHECK(Position{d.line, d.column} == pos(2, 2));
  CHECK(d.message == "unexpected end of input, expected ',' or ']'");
  CHECK(d.hint.find("']'") != std::string::npos);

  d = syntax_error("// comment\n{}");
  CHECK(Position{d.line, d.column} == pos(1, 1));
  CHECK(d.message.find("comments") != std::string::npos);

  d = syntax_error("{\"a\": \"x\ny\"}");
  CHECK(Position{d.line, d.column} == pos(1, 9));
  CHECK(d.pointer == "/a");
  CHECK(d.message.find("not closed") != std::string::npos);

  d = syntax_error("{\"a\": \"\\q\"}");
  CHECK(Position{d.line, d.column} == pos(1, 9));
  CHECK(d.message.find("escape") != std::string::npos);

  d = syntax_error("{\"a\": 1} x");
  CHECK(Position{d.line, d.column} == pos(1, 10));
  CHECK(d.message.find("after the end") != std::string::npos);

  d = syntax_error("{\"list\": [1, 2,, 3]}");
  CHECK(Position{d.line, d.column} == pos(1, 16));
  CHECK(d.pointer == "/list/2");
  CHECK(d.message == "expected a value, found ','");

  d = syntax_error("{'a': 1}");
  CHECK(d.message == "expected a member name in double quotes or '}', found '''");
  CHECK(d.hint.find("double quotes") != std::string::npos);

  d = syntax_error("{\"\xC3\xA9\": x}");
  CHECK(Position{d.line, d.column} == pos(1, 7));

  d = syntax_error("");
  CHECK(Position{d.line, d.column} == pos(1, 1));
  CHECK(d.message == "unexpected end of input, expected a value");

  d = syntax_error(std::string(70, '['));
  CHECK(d.message.find("nesting") != std::string::npos);

  d = syntax_error("{\"a\": \"\xff\"}");
  CHECK(d.message.find("UTF-8") != std::string::npos);
}

TEST_CASE("byte order mark, huge numbers") {
  auto parsed = parse_json_source("\xEF\xBB\xBF{\"a\": 1}");
  REQUIRE(parsed.ok);
  CHECK(parsed.map.value_position("/a") == pos(1, 7));

  parsed = parse_json_source("[1e999, 1e-999, 2]");
  REQUIRE(parsed.ok);
  REQUIRE(parsed.diagnostics.size() == 1);
  CHECK(parsed.diagnostics.items()[0].code == "out_of_range");
  CHECK(parsed.diagnostics.items()[0].pointer == "/0");
  CHECK(parsed.diagnostics.items()[0].column == 2);
}

TEST_CASE("read_file") {
  char tmpl[] = "/tmp/weir_json_source_XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir = tmpl;
  const auto file = dir / "a.json";
  std::ofstream(file, std::ios::binary) << "{\"a\":\n1}";
  std::string error;
  CHECK(weir::core::read_file(file, &error) == "{\"a\":\n1}");
  CHECK(error.empty());
  CHECK(weir::core::read_file(dir / "missing.json", &error).empty());
  CHECK(error.find("missing.json") != std::string::npos);
  error.clear();
  CHECK(weir::core::read_file(dir, &error).empty());
  CHECK_FALSE(error.empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a valid scalar before a bad delimiter is not blamed") {
  auto d = syntax_error("[1}");
  CHECK(d.message == "expected ',' or ']', found '}'");
  CHECK(d.column == 3);
  d = syntax_error("{\"a\": 1.5 \"b\": 2}");
  CHECK(d.message == "expected ',' or '}', found '\"'");
  CHECK(d.column == 11);
  d = syntax_error("{\"a\": 1.}");
  CHECK(d.message == "invalid value \"1.\"");
  CHECK(d.column == 7);
}
