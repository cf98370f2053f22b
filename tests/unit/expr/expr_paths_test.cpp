#include "expr_test_util.hpp"

#include <boost/json/parse.hpp>

using namespace weir::sdk::expr;
using namespace weir::sdk::expr::testing;
namespace json = boost::json;

namespace {

const char* const record = R"({
  "value": 7,
  "a": {"b": {"c": "deep"}, "odd key": 1, "in": 2, "arr": [[10, 11], [12]]},
  "items": [{"name": "first"}, {"name": "second"}],
  "s": "text"
})";

Path must_parse(std::string_view text) {
  CompileError err;
  auto p = parse_path(text, err);
  INFO("path: ", std::string(text), " error at ", err.offset, ": ", err.message);
  REQUIRE(p.has_value());
  return *p;
}

}  // namespace

TEST_CASE("field paths in expressions") {
  CHECK(eval("value", record) == 7);
  CHECK(eval("a.b.c", record) == "deep");
  CHECK(eval("items[0].name", record) == "first");
  CHECK(eval("items[1].name", record) == "second");
  CHECK(eval("items[-1].name", record) == "second");
  CHECK(eval("a.arr[0][1]", record) == 11);
  CHECK(eval("a[\"odd key\"]", record) == 1);
  CHECK(eval("a['b'].c", record) == "deep");
  CHECK(eval("a.in", record) == 2);
  CHECK(eval("$['value']", record) == 7);
  CHECK(eval("$.value", record) == 7);
  CHECK(eval("a.b", record) == json::parse(R"({"c": "deep"})"));
  CHECK(eval("$", "[1, 2]") == json::parse("[1, 2]"));
  CHECK(eval("a . b . c", record) == "deep");
}

TEST_CASE("missing paths are null") {
  CHECK(eval("nope", record).is_null());
  CHECK(eval("a.nope.c", record).is_null());
  CHECK(eval("items[2].name", record).is_null());
  CHECK(eval("items[-3]", record).is_null());
  CHECK(eval("s.length", record).is_null());    // through a string
  CHECK(eval("value[0]", record).is_null());    // index on a number
  CHECK(eval("a[0]", record).is_null());        // index on an object
  CHECK(eval("items.name", record).is_null());  // key on an array
  CHECK(eval("x", "[1]").is_null());            // record is not an object
}

TEST_CASE("parse_path") {
  CHECK(must_parse("a").segments() == std::vector<PathSegment>{{"a", 0, false}});
  CHECK(must_parse("a.b[2][\"odd key\"]").segments() ==
        std::vector<PathSegment>{{"a", 0, false}, {"b", 0, false}, {"", 2, true}, {"odd key", 0, false}});
  CHECK(must_parse("items[-1]").segments().back() == PathSegment{"", -1, true});
  CHECK(must_parse("[\"odd-key\"].x").segments() ==
        std::vector<PathSegment>{{"odd-key", 0, false}, {"x", 0, false}});
  CHECK(must_parse("$").is_root());
  CHECK(must_parse("null").segments() == std::vector<PathSegment>{{"null", 0, false}});
  SUBCASE("errors carry offsets") {
    CompileError err;
    CHECK_FALSE(parse_path("", err));
    CHECK(err.message == "empty path");
    CHECK_FALSE(parse_path("a.b c", err));
    CHECK(err.offset == 4);
    CHECK_FALSE(parse_path("a + b", err));
    CHECK(err.offset == 2);
    CHECK_FALSE(parse_path("a.", err));
    CHECK(err.offset == 2);
    CHECK_FALSE(parse_path("a[x]", err));
    CHECK(err.offset == 2);
    CHECK_FALSE(parse_path("a[1", err));
    CHECK(err.offset == 3);
    CHECK(err.message == "missing ']'");
    CHECK_FALSE(parse_path("1", err));
    CHECK(err.offset == 0);
    CHECK_FALSE(parse_path("a-b", err));
    CHECK(err.offset == 1);
  }
}

TEST_CASE("Path::to_string reads back") {
  for (const char* text : {"$", "a", "a.b.c", "items[0].name", "a[-1]", "$[\"odd key\"].x", "a[\"x\\\"y\"]",
                           "$[\"null\"]", "a.null", "$[\"1x\"]"}) {
    CAPTURE(text);
    CHECK(must_parse(text).to_string() == text);
    CHECK(must_parse(must_parse(text).to_string()) == must_parse(text));
  }
}

TEST_CASE("find_path") {
  const json::value rec = json::parse(record);
  REQUIRE(find_path(rec, must_parse("a.b.c")) != nullptr);
  CHECK(*find_path(rec, must_parse("a.b.c")) == "deep");
  CHECK(*find_path(rec, must_parse("items[1].name")) == "second");
  CHECK(find_path(rec, must_parse("$")) == &rec);
  CHECK(find_path(rec, must_parse("a.x")) == nullptr);
  CHECK(find_path(rec, must_parse("items[5]")) == nullptr);
  CHECK(find_path(rec, must_parse("s.x")) == nullptr);
  const json::value with_null = json::parse(R"({"n": null})");
  REQUIRE(find_path(with_null, must_parse("n")) != nullptr);
  CHECK(find_path(with_null, must_parse("n"))->is_null());
}

TEST_CASE("set_path") {
  json::value rec = json::parse(R"({"a": {"b": 1}, "list": [1, {"k": 0}], "s": "x", "n": null})");
  EvalError err;
  SUBCASE("replaces and adds keys") {
    REQUIRE(set_path(rec, must_parse("a.b"), 2, err));
    REQUIRE(set_path(rec, must_parse("a.c"), "new", err));
    CHECK(rec.at("a") == json::parse(R"({"b": 2, "c": "new"})"));
  }
  SUBCASE("creates objects along the way, also in place of null") {
    REQUIRE(set_path(rec, must_parse("x.y.z"), true, err));
    CHECK(rec.at("x") == json::parse(R"({"y": {"z": true}})"));
    REQUIRE(set_path(rec, must_parse("n.m"), 1, err));
    CHECK(rec.at("n") == json::parse(R"({"m": 1})"));
  }
  SUBCASE("array elements in range") {
    REQUIRE(set_path(rec, must_parse("list[0]"), 9, err));
    REQUIRE(set_path(rec, must_parse("list[-1].k"), 5, err));
    CHECK(rec.at("list") == json::parse(R"([9, {"k": 5}])"));
  }
  SUBCASE("the root") {
    REQUIRE(set_path(rec, must_parse("$"), 3, err));
    CHECK(rec == 3);
  }
  SUBCASE("errors leave the record unchanged") {
    const json::value before = rec;
    CHECK_FALSE(set_path(rec, must_parse("s.x"), 1, err));
    CHECK(err.message == "cannot set 's.x': 's' is a string, not an object");
    CHECK_FALSE(set_path(rec, must_parse("list[2]"), 1, err));
    CHECK(err.message == "cannot set 'list[2]': index 2 is out of range for 'list' (2 elements)");
    CHECK_FALSE(set_path(rec, must_parse("a[0]"), 1, err));
    CHECK(err.message == "cannot set 'a[0]': 'a' is an object, not an array");
    CHECK_FALSE(set_path(rec, must_parse("new.sub[0]"), 1, err));
    CHECK(err.message == "cannot set 'new.sub[0]': 'new.sub' does not exist, so it cannot be indexed");
    CHECK_FALSE(set_path(rec, must_parse("list[0].k"), 1, err));
    CHECK(err.message == "cannot set 'list[0].k': 'list[0]' is a number, not an object");
    CHECK(rec == before);
    json::value scalar = 5;
    CHECK_FALSE(set_path(scalar, must_parse("a"), 1, err));
    CHECK(err.message == "cannot set 'a': the record is a number, not an object");
  }
}

TEST_CASE("remove_path") {
  json::value rec = json::parse(R"({"a": {"b": 1, "c": 2}, "list": [1, 2, 3], "s": "x"})");
  CHECK(remove_path(rec, must_parse("a.b")));
  CHECK(rec.at("a") == json::parse(R"({"c": 2})"));
  CHECK(remove_path(rec, must_parse("list[1]")));
  CHECK(rec.at("list") == json::parse("[1, 3]"));
  CHECK(remove_path(rec, must_parse("list[-1]")));
  CHECK(rec.at("list") == json::parse("[1]"));
  CHECK_FALSE(remove_path(rec, must_parse("a.b")));
  CHECK_FALSE(remove_path(rec, must_parse("list[4]")));
  CHECK_FALSE(remove_path(rec, must_parse("s.x")));
  CHECK_FALSE(remove_path(rec, must_parse("x.y")));
  CHECK_FALSE(remove_path(rec, must_parse("$")));
  CHECK(remove_path(rec, must_parse("s")));
  CHECK(rec == json::parse(R"({"a": {"c": 2}, "list": [1]})"));
}

TEST_CASE("remove_path keeps the order of the other keys") {
  json::value rec = json::parse(R"({"a": 1, "b": 2, "c": 3, "d": 4})");
  CHECK(remove_path(rec, must_parse("b")));
  CHECK(json::serialize(rec) == R"({"a":1,"c":3,"d":4})");
}
