#include <doctest/doctest.h>

#include "sdk/base/json_write.hpp"
#include "support/component_testing.hpp"

using namespace weir;
using testing::has_diag;
using testing::parse_config;

namespace {

// The emitted records' JSON, one a line; every one must have gone to `out`.
std::string emitted(const testing::CollectingEmitter& out) {
  std::string s;
  for (const auto& [port, rec] : out.emitted) {
    CHECK(port == 0);
    s += sdk::to_json(rec.value) + "\n";
  }
  return s;
}

struct Run {
  std::unique_ptr<sdk::Processor> split;
  testing::CollectingEmitter out;
  explicit Run(const std::string& config)
      : split(testing::create<sdk::Processor>(parse_config("split", config))) {}
  Run& operator()(const std::string& json, const std::string& id = "r1") {
    split->process(testing::rec(json, id), out);
    return *this;
  }
};

}  // namespace

TEST_CASE("split: the README example parses") {
  auto p = parse_config("split", R"({"field": "readings", "index_field": "i"})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("split: field is required; paths are checked with their column; as without keep_parent is unused") {
  CHECK(has_diag(parse_config("split", "{}").diags, "missing_field", "/components/0/config/field"));
  auto p = parse_config("split", R"({"field": "a..b"})");
  REQUIRE(has_diag(p.diags, "bad_path", "/components/0/config/field"));
  CHECK(p.diags.items()[0].offset >= 0);
  CHECK(has_diag(parse_config("split", R"({"field": "$"})").diags, "bad_path", "/components/0/config/field"));
  CHECK(has_diag(parse_config("split", R"({"field": "a", "index_field": "x["})").diags, "bad_path",
                 "/components/0/config/index_field"));
  auto unused = parse_config("split", R"({"field": "a", "as": "b"})");  // a warning: it loads
  CHECK(has_diag(unused.diags, "unused", "/components/0/config/as"));
  CHECK(unused.config != nullptr);
  CHECK(has_diag(parse_config("split", R"({"field": "a", "max_elements": 0})").diags, "out_of_range",
                 "/components/0/config/max_elements"));
}

TEST_CASE("split: each element becomes the record, in order, with its index") {
  Run r(R"({"field": "data.readings", "index_field": "i"})");
  r(R"({"site": "a", "data": {"readings": [{"v": 1}, {"v": 2}, {"v": 3, "i": "old"}]}})");
  CHECK(emitted(r.out) == "{\"v\":1,\"i\":0}\n{\"v\":2,\"i\":1}\n{\"v\":3,\"i\":2}\n");
  CHECK(r.out.failed.empty());
}

TEST_CASE("split: keep_parent keeps the other fields and puts the element at as") {
  Run same(R"({"field": "readings", "keep_parent": true})");
  same(R"({"site": "a", "readings": [1, {"v": 2}]})");
  CHECK(emitted(same.out) == "{\"site\":\"a\",\"readings\":1}\n{\"site\":\"a\",\"readings\":{\"v\":2}}\n");

  Run moved(
      R"({"field": "readings", "keep_parent": true, "as": "reading.value", "index_field": "reading.n"})");
  moved(R"({"site": "a", "readings": [7, 8]})");
  CHECK(emitted(moved.out) ==
        "{\"site\":\"a\",\"reading\":{\"value\":7,\"n\":0}}\n{\"site\":\"a\",\"reading\":{\"value\":8,\"n\":"
        "1}}\n");
  CHECK(moved.out.failed.empty());
}

TEST_CASE("split: an element that is not an object goes to error alone, with the reason") {
  Run r(R"({"field": "xs"})");
  r(R"({"xs": [{"a": 1}, 5, "s", {"a": 2}]})", "p");
  CHECK(emitted(r.out) == "{\"a\":1}\n{\"a\":2}\n");
  REQUIRE(r.out.failed.size() == 2);
  CHECK(sdk::to_json(r.out.failed[0].first.value) == "5");
  CHECK(r.out.failed[0].first.id == "p");
  CHECK(r.out.failed[0].second ==
        "split: element 1 of xs is a number, not an object (set keep_parent to keep it)");
  CHECK(r.out.failed[1].second.find("split: element 2 of xs is a string") == 0);
}

TEST_CASE("split: an index that cannot be written sends that element to error") {
  Run r(R"({"field": "xs", "index_field": "meta.i"})");
  r(R"({"xs": [{"meta": 3}, {"meta": {}}]})");
  CHECK(emitted(r.out) == "{\"meta\":{\"i\":1}}\n");
  REQUIRE(r.out.failed.size() == 1);
  CHECK(r.out.failed[0].second.find("split: element 0 of xs: index_field meta.i: ") == 0);
}

TEST_CASE("split: a missing or non-array field sends the record to error whole") {
  Run r(R"({"field": "xs"})");
  r(R"({"other": 1})", "a")(R"({"xs": {"a": 1}})", "b")(R"({"xs": null})", "c")(R"([1, 2])", "d");
  CHECK(r.out.emitted.empty());
  REQUIRE(r.out.failed.size() == 4);
  CHECK(r.out.failed[0].second == "split: field xs is missing");
  CHECK(sdk::to_json(r.out.failed[0].first.value) == R"({"other":1})");  // the record as it came
  CHECK(r.out.failed[1].second == "split: field xs is not an array but an object");
  CHECK(r.out.failed[2].second == "split: field xs is not an array but null");
  CHECK(r.out.failed[3].second == "split: the record is an array, not an object");
  CHECK(r.out.failed[3].first.id == "d");
}

TEST_CASE("split: an empty array emits nothing and is counted") {
  Run r(R"({"field": "xs"})");
  r(R"({"xs": []})")(R"({"xs": []})")(R"({"xs": [{"a": 1}]})");
  CHECK(emitted(r.out) == "{\"a\":1}\n");
  CHECK(r.out.failed.empty());
  CHECK(testing::metric(*r.split, "empty_arrays") == 2);
}

TEST_CASE("split: an array longer than max_elements goes to error whole") {
  Run r(R"({"field": "xs", "max_elements": 3})");
  r(R"({"xs": [{"a": 1}, {"a": 2}, {"a": 3}]})", "at")(R"({"xs": [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}]})",
                                                       "past");
  CHECK(r.out.emitted.size() == 3);
  REQUIRE(r.out.failed.size() == 1);
  CHECK(r.out.failed[0].first.id == "past");
  CHECK(sdk::to_json(r.out.failed[0].first.value) == R"({"xs":[{"a":1},{"a":2},{"a":3},{"a":4}]})");
  CHECK(r.out.failed[0].second == "split: field xs holds 4 elements, more than max_elements (3)");
}

TEST_CASE("split: the same input gives the same records in the same order") {
  // What the engine's ids rest on: it numbers what one input record emits, so the same input
  // (a redelivery) must emit the same records in the same order.
  const std::string in = R"({"site": "a", "xs": [{"a": 1}, 2, {"a": 3}]})";
  Run first(R"({"field": "xs", "index_field": "i"})");
  Run again(R"({"field": "xs", "index_field": "i"})");
  first(in, "SRC:7");
  again(in, "SRC:7");
  CHECK(emitted(first.out) == emitted(again.out));
  REQUIRE(first.out.failed.size() == again.out.failed.size());
  CHECK(first.out.failed[0].second == again.out.failed[0].second);
}
