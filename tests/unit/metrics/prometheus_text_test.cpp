#include "support/prometheus_text.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

using weir::testing::parse_prometheus_text;

TEST_CASE("the parser accepts what the format allows") {
  const auto r = parse_prometheus_text(
      "# a plain comment\n"
      "\n"
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\",}    3   -1395066363000\n"
      "  http_requests_total { method = \"get\" } +1e+06\t\n"
      "# TYPE go_like gauge\n"
      "go_like{v=\"a\"} 1.5e-05\n"
      "go_like{v=\"b\"} -Inf\n"
      "go_like{v=\"c\"} nan\n"
      "go_like{v=\"d\"} .5\n"
      "go_like{v=\"e\"} 5.\n"
      "go_like{v=\"f\"} Infinity\n"
      "go_like{v=\"g\"} 1e-400\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "# HELP escaped A \\\\ and a \\n here.\n"
      "escaped{path=\"C:\\\\x\",q=\"say \\\"hi\\\"\\n\"} 1\n"
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
      "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
      "rpc_duration_seconds_sum 1.7560473e+07\n"
      "rpc_duration_seconds_count 2693\n"
      "# TYPE h histogram\n"
      "h_bucket{le=\"0.05\"} 24054\n"
      "h_bucket{le=\"0.1\"} 33444\n"
      "h_bucket{le=\"+Inf\"} 144320\n"
      "h_sum 53423\n"
      "h_count 144320\n"
      "# TYPE only_type gauge\n");
  REQUIRE_MESSAGE(r.ok(), r.error_text());
  CHECK(r.families.size() == 7);
  CHECK(r.value("http_requests_total", {{"code", "400"}}) == 3);
  CHECK(r.family("http_requests_total")->samples[0].timestamp_ms == 1395066363000);
  CHECK(r.family("http_requests_total")->samples[1].timestamp_ms == -1395066363000);
  CHECK(r.value("http_requests_total", {{"method", "get"}}) == 1e6);
  CHECK(r.value("http_requests_total") == std::nullopt);
  CHECK(r.sum("http_requests_total", {{"method", "post"}}) == 1030);
  CHECK(r.value("go_like", {{"v", "a"}}) == 1.5e-05);
  CHECK(r.value("go_like", {{"v", "b"}}) == -INFINITY);
  CHECK(std::isnan(*r.value("go_like", {{"v", "c"}})));
  CHECK(r.value("go_like", {{"v", "d"}}) == 0.5);
  CHECK(r.value("go_like", {{"v", "f"}}) == INFINITY);
  CHECK(r.value("go_like", {{"v", "g"}}) == 0);
  CHECK(r.family("metric_without_timestamp_and_labels")->type == "untyped");
  CHECK(*r.family("escaped")->help == "A \\ and a \n here.");
  CHECK(r.value("escaped", {{"q", "say \"hi\"\n"}, {"path", "C:\\x"}}) == 1);
  CHECK(r.family("rpc_duration_seconds")->samples.size() == 4);
  CHECK(r.value("h_count") == 144320);
  CHECK(r.family("only_type")->samples.empty());
  CHECK(parse_prometheus_text("").ok());
}

namespace {

struct Broken {
  const char* why;
  const char* text;
  const char* code;
  int line;
};

const Broken broken[] = {
    {"no newline at the end", "a 1\nb 2", "missing_newline", 2},
    {"duplicate TYPE", "# TYPE a gauge\n# TYPE a gauge\na 1\n", "duplicate_type", 2},
    {"duplicate HELP", "# HELP a x\n# HELP a y\na 1\n", "duplicate_help", 2},
    {"TYPE after a sample", "a 1\n# TYPE a gauge\n", "type_after_samples", 2},
    {"unknown type", "# TYPE a meter\na 1\n", "bad_type", 1},
    {"upper-case type", "# TYPE a GAUGE\na 1\n", "bad_type", 1},
    {"text after the type", "# TYPE a gauge x\na 1\n", "bad_type", 1},
    {"family split by another", "# TYPE a gauge\na{x=\"1\"} 1\nb 1\na{x=\"2\"} 2\n", "non_contiguous", 4},
    {"HELP after the family ended", "a 1\nb 1\n# HELP a late\n", "non_contiguous", 3},
    {"unknown label escape", "a{x=\"\\t\"} 1\n", "bad_escape", 1},
    {"unknown help escape", "# HELP a tab\\there\na 1\n", "bad_escape", 1},
    {"unterminated label value", "a{x=\"1} 1\n", "bad_label_value", 1},
    {"unquoted label value", "a{x=1} 1\n", "bad_label_value", 1},
    {"label value not UTF-8", "a{x=\"\xFF\"} 1\n", "bad_utf8", 1},
    {"missing closing brace", "a{x=\"1\" 1\n", "bad_syntax", 1},
    {"bad label name", "a{1x=\"1\"} 1\n", "bad_label_name", 1},
    {"reserved label name", "a{__name__=\"b\"} 1\n", "reserved_label", 1},
    {"label twice", "a{x=\"1\",x=\"2\"} 1\n", "duplicate_label", 1},
    {"duplicate series", "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n", "duplicate_series", 2},
    {"duplicate series without labels", "a 1\na 2\n", "duplicate_series", 2},
    {"bad metric name", "1a 1\n", "bad_metric_name", 1},
    {"bad character in a metric name", "a-b 1\n", "bad_metric_name", 1},
    {"bad metric name in TYPE", "# TYPE a-b gauge\n", "bad_metric_name", 1},
    {"missing value", "a\n", "bad_value", 1},
    {"value not a number", "a one\n", "bad_value", 1},
    {"hex value", "a 0x1p3\n", "bad_value", 1},
    {"value with underscore", "a 1_000\n", "bad_value", 1},
    {"signed NaN", "a -NaN\n", "bad_value", 1},
    {"value out of range", "a 1e400\n", "bad_value", 1},
    {"float timestamp", "a 1 1.5\n", "bad_timestamp", 1},
    {"text after the timestamp", "a 1 2 3\n", "bad_syntax", 1},
    {"carriage return", "a 1\r\n", "bad_value", 1},
    {"negative counter", "# TYPE a_total counter\na_total -1\n", "negative_counter", 2},
    {"NaN counter", "# TYPE a_total counter\na_total NaN\n", "negative_counter", 2},
    {"histogram without +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
     "missing_inf_bucket", 4},
    {"histogram count differs from +Inf",
     "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
     "count_mismatch", 5},
    {"decreasing buckets",
     "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
     "bucket_decreasing", 3},
    {"buckets out of le order",
     "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
     "h_sum 1\nh_count 1\n",
     "bucket_order", 3},
    {"bucket without le", "# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n", "missing_le", 2},
    {"le not a number",
     "# TYPE h histogram\nh_bucket{le=\"x\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "bad_le", 2},
    {"histogram without _count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n", "missing_count",
     3},
    {"histogram without _sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "missing_sum", 3},
    {"histogram sample without suffix", "# TYPE h histogram\nh 1\n", "unexpected_sample", 2},
    {"histogram split in two", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nother 1\nh_count 1\n",
     "non_contiguous", 5},
    {"summary without quantile", "# TYPE s summary\ns 1\ns_sum 1\ns_count 1\n", "bad_quantile", 2},
};

}  // namespace

TEST_CASE("the parser rejects broken inputs with a code and a line") {
  for (const auto& b : broken) {
    CAPTURE(b.why);
    const auto r = parse_prometheus_text(b.text);
    CHECK_FALSE(r.ok());
    bool found = false;
    for (const auto& e : r.errors) found = found || (e.code == b.code && e.line == b.line);
    CHECK_MESSAGE(found, "expected " << b.code << " on line " << b.line << ", got:\n" << r.error_text());
  }
}

TEST_CASE("one bad line does not hide the next") {
  const auto r = parse_prometheus_text("a{x=\"\\t\"} 1\nb one\n# TYPE c meter\n");
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].line == 1);
  CHECK(r.errors[1].line == 2);
  CHECK(r.errors[2].line == 3);
}
