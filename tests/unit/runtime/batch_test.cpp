// Batch bodies between stages: a line over the record limits (depth, size, number range) is no
// weir batch, with the reason; what an input sends to its error port reads back.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <vector>

#include "runtime/batch.hpp"
#include "sdk/base/record_json.hpp"

using namespace weir;

namespace {

std::string decode_error(const std::string& body) {
  runtime::BatchReader reader;
  std::vector<sdk::Record> out;
  std::string error;
  CHECK_FALSE(reader.decode(body, out, error));
  return error;
}

}  // namespace

TEST_CASE("batch: records written by BatchWriter read back, a garbage error record included") {
  runtime::BatchWriter w;
  w.add({"a1", boost::json::parse(R"({"v": 1.5})")});
  w.add({"a2", sdk::raw_record_value(std::string("\xFF\x00\n\x1B", 4), "invalid JSON: syntax error")});
  runtime::BatchReader reader;
  std::vector<sdk::Record> out;
  std::string error;
  REQUIRE_MESSAGE(reader.decode(w.body(), out, error), error);
  REQUIRE(out.size() == 2);
  CHECK(out[1].value.at("raw_base64") == boost::json::value("/wAKGw=="));
}

TEST_CASE("batch: a deeply nested, oversized or out-of-range record is refused with the reason") {
  CHECK(decode_error("r1 " + std::string(10000, '[') + "\n") ==
        "not a weir batch: record \"r1\": invalid JSON: nesting deeper than 64 levels");
  CHECK(decode_error("r2 {\"v\":1e999}\n").find("number out of range of a double at \"/v\"") !=
        std::string::npos);
  CHECK(decode_error("r3 \"" + std::string(sdk::record_max_bytes, 'x') + "\"\n")
            .find("more than the limit of 1048576") != std::string::npos);
  // An id from outside is quoted: no control character reaches a log line.
  CHECK(decode_error("r\x1b[2J x\n").find("\"r\\u001b[2J\"") != std::string::npos);
}

// Found by the json_write fuzz target: with Boost.JSON's own parser a double drifted by one unit
// in the last place at every hop.
TEST_CASE("doubles cross a hop unchanged") {
  const std::vector<double> values = {1.0000037777777776e+39, 0.30000000000000004, 48.38999999999999,
                                      -123456.78901234567, 2.2250738585072014e-308};
  runtime::BatchReader r;
  std::vector<sdk::Record> in;
  for (std::size_t i = 0; i < values.size(); ++i)
    in.push_back({"r" + std::to_string(i), boost::json::value(values[i])});
  for (int hop = 0; hop < 3; ++hop) {
    runtime::BatchWriter w;
    for (const auto& rec : in) w.add(rec);
    std::vector<sdk::Record> out;
    std::string error;
    REQUIRE(r.decode(w.body(), out, error));
    in = std::move(out);
  }
  REQUIRE(in.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    REQUIRE(in[i].value.is_double());
    CHECK(in[i].value.get_double() == values[i]);
  }
}

TEST_CASE("batch: add with a bound says when the batch is full and when a record fits no message") {
  runtime::BatchWriter w;
  const std::size_t max_body = 1000;
  const sdk::Record small{"s1", boost::json::value(std::string(400, 'x'))};
  CHECK(w.add(small, max_body) == runtime::BatchWriter::Added::added);
  CHECK(w.add({"s2", small.value}, max_body) == runtime::BatchWriter::Added::added);
  const auto body = w.body();
  // A third would take the body past 1000 bytes: refused, the batch as it was.
  CHECK(w.add({"s3", small.value}, max_body) == runtime::BatchWriter::Added::full);
  CHECK(w.body() == body);
  CHECK(w.count() == 2);
  CHECK(w.last_id() == "s2");
  // One record whose line alone is over the bound.
  CHECK(w.add({"big", boost::json::value(std::string(1000, 'x'))}, max_body) ==
        runtime::BatchWriter::Added::too_large);
  CHECK(w.body() == body);
  // The record limit every reader holds a line to applies whatever the bound.
  runtime::BatchWriter e;
  CHECK(e.add({"huge", boost::json::value(std::string(sdk::record_max_bytes, 'x'))}, 8 * 1024 * 1024) ==
        runtime::BatchWriter::Added::too_large);
  CHECK(e.empty());
  CHECK(e.body().empty());
  // max_body_bytes leaves room for headers.
  CHECK(runtime::max_body_bytes(1024 * 1024) == 1024 * 1024 - 4096);
}
