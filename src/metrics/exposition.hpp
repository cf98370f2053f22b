// Prometheus text exposition format 0.0.4, built per scrape.
//
// Conventions (what the Prometheus Go client does for the 0.0.4 text format):
// - A counter's family name already ends in `_total` (e.g. "weir_messages_in_total"); the
//   `# TYPE` line, the `# HELP` line and the samples all use that same name.
// - A histogram family `x` renders `x_bucket{...,le="..."}`, `x_sum` and `x_count` per series.
// - Families render in the order they were first added, each once and contiguously, whatever
//   order their samples were added in; series render in the order they were first added.
// - A series added again (same family, same label set in any order) keeps its first value and
//   is counted in dropped_duplicates(): two sources claiming one series is a bug to surface, and
//   summing would hide it.
// - Names, types and help are decided by code, so a bad one (invalid metric or label name, a
//   label starting with `__`, a label twice, `le` on a histogram, a counter not ending in
//   `_total`, a negative or NaN counter, one family added with two types or two helps, a name
//   clashing with a histogram's `_bucket`/`_sum`/`_count`) throws std::invalid_argument.
// - Label values come from configuration (flow and component names): any bytes are accepted;
//   bytes that are not UTF-8 are replaced by U+FFFD (in help too), since Prometheus rejects the
//   whole scrape for one invalid label value.
// - An empty help renders no `# HELP` line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "metrics/histogram.hpp"

namespace weir::metrics {

enum class Type { counter, gauge, histogram, untyped };

std::string_view type_name(Type t);

struct Label {
  std::string name;
  std::string value;
};
using Labels = std::vector<Label>;

// The HTTP Content-Type of str().
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

// `[a-zA-Z_:][a-zA-Z0-9_:]*`
bool valid_metric_name(std::string_view name);
// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved by Prometheus).
bool valid_label_name(std::string_view name);

// A sample value or `le` bound: integers up to 2^53 without exponent or decimals ("42"),
// others in the shortest form that reads back exactly ("0.25", "1.5e-05", "1e+300"), and
// "+Inf", "-Inf", "NaN".
std::string format_value(double v);

class Exposition {
 public:
  // One sample of a counter, gauge or untyped family (histograms: add_histogram).
  void add(std::string_view family, Type type, std::string_view help, Labels labels, double value);
  // One series of a histogram family: `_bucket` per bound plus +Inf, `_sum`, `_count`.
  void add_histogram(std::string_view family, std::string_view help, Labels labels,
                     const HistogramSnapshot& h);

  std::string str() const;

  std::size_t dropped_duplicates() const { return dropped_duplicates_; }

 private:
  struct Series {
    Labels labels;
    double value = 0;
    HistogramSnapshot histogram;  // histogram families only
  };
  struct Family {
    std::string name;
    Type type;
    std::string help;
    std::vector<Series> series;
    std::unordered_set<std::string> keys;  // canonical label sets of `series`, for duplicates
  };

  Family& family(std::string_view name, Type type, std::string_view help);
  // Validates and sanitises `labels`; false (and counted) when the series already exists.
  bool admit(Family& f, Labels& labels);

  std::vector<Family> families_;
  std::unordered_map<std::string, std::size_t> index_;
  std::size_t dropped_duplicates_ = 0;
};

}  // namespace weir::metrics
