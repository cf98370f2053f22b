#include "metrics/exposition.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "metrics/process.hpp"
#include "support/prometheus_text.hpp"

using namespace std::chrono_literals;
using weir::metrics::Exposition;
using weir::metrics::format_value;
using weir::metrics::Histogram;
using weir::metrics::HistogramSnapshot;
using weir::metrics::Type;
using weir::testing::parse_prometheus_text;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
}  // namespace

TEST_CASE("format_value: integers plainly, others shortest, specials as Prometheus spells them") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(-0.0) == "0");
  CHECK(format_value(1) == "1");
  CHECK(format_value(-42) == "-42");
  CHECK(format_value(1e6) == "1000000");
  CHECK(format_value(1712345678) == "1712345678");
  CHECK(format_value(0x1p53) == "9007199254740992");
  CHECK(format_value(-0x1p53) == "-9007199254740992");
  CHECK(format_value(0x1p53 * 2) == "1.8014398509481984e+16");
  CHECK(format_value(1e300) == "1e+300");
  CHECK(format_value(0.25) == "0.25");
  CHECK(format_value(0.1) == "0.1");
  CHECK(format_value(0.0001) == "0.0001");
  CHECK(format_value(0.00025) == "0.00025");
  CHECK(format_value(0.000015) == "1.5e-05");
  CHECK(format_value(1712345678.25) == "1712345678.25");
  CHECK(format_value(2.5) == "2.5");
  CHECK(format_value(inf) == "+Inf");
  CHECK(format_value(-inf) == "-Inf");
  CHECK(format_value(not_a_number) == "NaN");
  CHECK(format_value(std::numeric_limits<double>::denorm_min()) == "5e-324");
}

TEST_CASE("families render once, contiguously, in first-added order") {
  Exposition e;
  e.add("weir_messages_in_total", Type::counter, "Messages received.", {{"flow", "a"}}, 3);
  e.add("weir_queue_depth", Type::gauge, "Messages waiting.", {{"flow", "a"}}, 7);
  e.add("weir_messages_in_total", Type::counter, "Messages received.", {{"flow", "b"}}, 4);
  e.add("weir_queue_depth", Type::gauge, "Messages waiting.", {{"flow", "b"}}, 0);
  e.add("weir_build_info", Type::untyped, "", {}, 1);
  CHECK(e.str() ==
        "# HELP weir_messages_in_total Messages received.\n"
        "# TYPE weir_messages_in_total counter\n"
        "weir_messages_in_total{flow=\"a\"} 3\n"
        "weir_messages_in_total{flow=\"b\"} 4\n"
        "# HELP weir_queue_depth Messages waiting.\n"
        "# TYPE weir_queue_depth gauge\n"
        "weir_queue_depth{flow=\"a\"} 7\n"
        "weir_queue_depth{flow=\"b\"} 0\n"
        "# TYPE weir_build_info untyped\n"
        "weir_build_info 1\n");
}

TEST_CASE("help escapes backslash and newline, label values also the double quote") {
  Exposition e;
  e.add("weir_x", Type::gauge, "a \\ b\nc \"q\"", {{"path", "C:\\dir\n\"x\""}, {"l", ""}}, 1);
  CHECK(e.str() ==
        "# HELP weir_x a \\\\ b\\nc \"q\"\n"
        "# TYPE weir_x gauge\n"
        "weir_x{path=\"C:\\\\dir\\n\\\"x\\\"\",l=\"\"} 1\n");
  const auto r = parse_prometheus_text(e.str());
  REQUIRE_MESSAGE(r.ok(), r.error_text());
  CHECK(*r.family("weir_x")->help == "a \\ b\nc \"q\"");
  CHECK(r.value("weir_x", {{"path", "C:\\dir\n\"x\""}, {"l", ""}}) == 1);
}

TEST_CASE("label values that are not UTF-8 are replaced, not passed on to break the scrape") {
  Exposition e;
  e.add("weir_x", Type::gauge, "h", {{"flow", "caf\xC3\xA9"}, {"site", "bad\xFF\xC3"}}, 1);
  CHECK(e.str().find("flow=\"caf\xC3\xA9\",site=\"bad\xEF\xBF\xBD\xEF\xBF\xBD\"") != std::string::npos);
  const auto r = parse_prometheus_text(e.str());
  CHECK_MESSAGE(r.ok(), r.error_text());
}

TEST_CASE("a label value holding every byte still parses") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  Exposition e;
  e.add("weir_x", Type::gauge, all, {{"v", all}}, 1);
  const auto r = parse_prometheus_text(e.str());
  REQUIRE_MESSAGE(r.ok(), r.error_text());
  const auto& labels = r.family("weir_x")->samples.at(0).labels;
  CHECK(labels.at("v").substr(0, 128) == all.substr(0, 128));  // ASCII, NUL included, intact
  CHECK(r.family("weir_x")->help->substr(0, 128) == all.substr(0, 128));
}

TEST_CASE("histogram series render buckets, sum and count") {
  Histogram h({0.001, 0.25});
  h.observe(500us);
  h.observe(1ms);
  h.observe(100ms);
  h.observe(2s);
  Exposition e;
  e.add_histogram("weir_stage_seconds", "Time per batch.", {{"flow", "f"}}, h.snapshot());
  CHECK(e.str() ==
        "# HELP weir_stage_seconds Time per batch.\n"
        "# TYPE weir_stage_seconds histogram\n"
        "weir_stage_seconds_bucket{flow=\"f\",le=\"0.001\"} 2\n"
        "weir_stage_seconds_bucket{flow=\"f\",le=\"0.25\"} 3\n"
        "weir_stage_seconds_bucket{flow=\"f\",le=\"+Inf\"} 4\n"
        "weir_stage_seconds_sum{flow=\"f\"} 2.1015\n"
        "weir_stage_seconds_count{flow=\"f\"} 4\n");
}

TEST_CASE("_count is the +Inf bucket even for a hand-made snapshot that disagrees") {
  HistogramSnapshot s{{1}, {2, 5}, 9, 3.5};
  Exposition e;
  e.add_histogram("weir_h", "h", {}, s);
  CHECK(e.str().find("weir_h_count 5\n") != std::string::npos);
  CHECK_MESSAGE(parse_prometheus_text(e.str()).ok(), parse_prometheus_text(e.str()).error_text());
}

TEST_CASE("a series added twice keeps its first value, whatever the label order") {
  Exposition e;
  e.add("weir_a_total", Type::counter, "h", {{"flow", "f"}, {"port", "out"}}, 1);
  e.add("weir_a_total", Type::counter, "h", {{"port", "out"}, {"flow", "f"}}, 2);
  e.add("weir_a_total", Type::counter, "h", {{"flow", "f"}, {"port", "error"}}, 3);
  CHECK(e.dropped_duplicates() == 1);
  const auto r = parse_prometheus_text(e.str());
  REQUIRE_MESSAGE(r.ok(), r.error_text());
  CHECK(r.value("weir_a_total", {{"port", "out"}}) == 1);
  CHECK(r.sum("weir_a_total") == 4);
}

TEST_CASE("programming errors throw") {
  const auto bad = [](auto&& f) {
    Exposition e;
    e.add("weir_ok_total", Type::counter, "h", {}, 1);
    e.add_histogram("weir_h", "h", {}, Histogram({1}).snapshot());
    CHECK_THROWS_AS(f(e), std::invalid_argument);
  };
  bad([](Exposition& e) { e.add("1weir", Type::gauge, "h", {}, 1); });
  bad([](Exposition& e) { e.add("weir-x", Type::gauge, "h", {}, 1); });
  bad([](Exposition& e) { e.add("", Type::gauge, "h", {}, 1); });
  bad([](Exposition& e) { e.add("weir_x", Type::gauge, "h", {{"1a", "v"}}, 1); });
  bad([](Exposition& e) { e.add("weir_x", Type::gauge, "h", {{"a:b", "v"}}, 1); });
  bad([](Exposition& e) { e.add("weir_x", Type::gauge, "h", {{"__name__", "v"}}, 1); });
  bad([](Exposition& e) { e.add("weir_x", Type::gauge, "h", {{"a", "1"}, {"a", "2"}}, 1); });
  bad([](Exposition& e) { e.add("weir_x", Type::counter, "h", {}, 1); });  // no _total
  bad([](Exposition& e) { e.add("weir_ok_total", Type::counter, "h", {}, -1); });
  bad([](Exposition& e) { e.add("weir_ok_total", Type::counter, "h", {}, not_a_number); });
  bad([](Exposition& e) { e.add("weir_ok_total", Type::gauge, "h", {}, 1); });
  bad([](Exposition& e) { e.add("weir_ok_total", Type::counter, "other help", {}, 1); });
  bad([](Exposition& e) { e.add("weir_y", Type::histogram, "h", {}, 1); });
  bad([](Exposition& e) { e.add_histogram("weir_y", "h", {{"le", "1"}}, Histogram({1}).snapshot()); });
  bad([](Exposition& e) { e.add("weir_h_count", Type::gauge, "h", {}, 1); });
  bad([](Exposition& e) {
    e.add("weir_z_sum", Type::gauge, "h", {}, 1);
    e.add_histogram("weir_z", "h", {}, Histogram({1}).snapshot());
  });
  bad([](Exposition& e) { e.add_histogram("weir_y", "h", {}, HistogramSnapshot{{1, 2}, {1, 2}, 2, 0}); });
  bad([](Exposition& e) { e.add_histogram("weir_y", "h", {}, HistogramSnapshot{{2, 1}, {1, 2, 3}, 3, 0}); });
  bad([](Exposition& e) { e.add_histogram("weir_y", "h", {}, HistogramSnapshot{{1, 2}, {3, 2, 3}, 3, 0}); });
}

TEST_CASE("round trip: everything rendered parses strictly and reads back") {
  Exposition e;
  Histogram stage;
  for (std::chrono::nanoseconds d : {50us, 100us, 3000us, 3000us, 700000us, 20000000us}) stage.observe(d);
  Histogram empty({0.5, 1});
  // Interleaved on purpose: families must still come out grouped.
  e.add("weir_messages_in_total", Type::counter, "Messages received.",
        {{"flow", "hot"}, {"component", "in"}, {"port", "out"}}, 12345);
  e.add_histogram("weir_stage_seconds", "Stage latency.", {{"flow", "hot"}}, stage.snapshot());
  e.add("weir_queue_depth", Type::gauge, "Waiting.", {{"flow", "hot"}}, -1.5);
  e.add_histogram("weir_stage_seconds", "Stage latency.", {{"flow", "cold"}}, empty.snapshot());
  e.add("weir_messages_in_total", Type::counter, "Messages received.",
        {{"flow", "cold"}, {"component", "in"}, {"port", "out"}}, 0x1p60);
  e.add("weir_queue_depth", Type::gauge, "Waiting.", {{"flow", "cold"}}, not_a_number);
  e.add("weir_queue_depth", Type::gauge, "Waiting.", {{"flow", "x"}}, -inf);
  e.add("weir_lag_seconds", Type::untyped, "Line 1\nline 2 \\ end", {{"q", "a\"b\\c\nd"}}, 1e-9);
  e.add("weir_messages_in_total", Type::counter, "Messages received.",
        {{"flow", "inf"}, {"component", "in"}, {"port", "out"}}, inf);
  weir::metrics::add_process_metrics(e);

  const std::string text = e.str();
  INFO(text);
  const auto r = parse_prometheus_text(text);
  REQUIRE_MESSAGE(r.ok(), r.error_text());

  for (const auto& f : r.families) {
    if (f.type == "counter") CHECK_MESSAGE(f.name.ends_with("_total"), f.name);
  }
  CHECK(r.family("weir_stage_seconds")->type == "histogram");
  CHECK(r.value("weir_messages_in_total", {{"flow", "hot"}}) == 12345);
  CHECK(r.value("weir_messages_in_total", {{"flow", "cold"}}) == 0x1p60);
  CHECK(r.value("weir_messages_in_total", {{"flow", "inf"}}) == inf);
  CHECK(std::isnan(*r.value("weir_queue_depth", {{"flow", "cold"}})));
  CHECK(r.value("weir_queue_depth", {{"flow", "x"}}) == -inf);
  CHECK(r.value("weir_queue_depth", {{"flow", "hot"}}) == -1.5);
  CHECK(r.value("weir_lag_seconds", {{"q", "a\"b\\c\nd"}}) == 1e-9);
  CHECK(*r.family("weir_lag_seconds")->help == "Line 1\nline 2 \\ end");
  CHECK(r.value("weir_stage_seconds_count", {{"flow", "hot"}}) == 6);
  CHECK(r.value("weir_stage_seconds_bucket", {{"flow", "hot"}, {"le", "0.0001"}}) == 2);
  CHECK(r.value("weir_stage_seconds_bucket", {{"flow", "hot"}, {"le", "10"}}) == 5);
  CHECK(r.value("weir_stage_seconds_sum", {{"flow", "hot"}}) == doctest::Approx(20.70615));
  CHECK(r.value("weir_stage_seconds_count", {{"flow", "cold"}}) == 0);
  CHECK(r.value("weir_stage_seconds_count") == std::nullopt);  // two series: ambiguous
  CHECK(r.sum("weir_stage_seconds_count") == 6);
  CHECK(r.value("process_open_fds"));
}
