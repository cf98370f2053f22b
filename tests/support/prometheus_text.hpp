#pragma once

// A strict parser of the Prometheus text exposition format 0.0.4, for tests: what weir serves
// on /metrics must parse here with no errors. Stricter than Prometheus itself where the format
// document says "must": a family's lines are one group, TYPE comes before its samples, no
// series twice, histograms complete and cumulative. Independent of src/metrics on purpose.
//
// Errors carry a stable snake_case code (tests assert on codes, not prose) and a 1-based line.
// Codes: missing_newline, bad_type, duplicate_help, duplicate_type,
// type_after_samples, non_contiguous, bad_metric_name, bad_label_name, reserved_label,
// bad_label_value, bad_escape, bad_utf8, duplicate_label, bad_value, bad_timestamp,
// bad_syntax, duplicate_series, unexpected_sample, negative_counter, negative_count, missing_le,
// bad_le, bucket_order, bucket_decreasing, missing_inf_bucket, missing_count, count_mismatch,
// missing_sum, bad_quantile.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::testing {

struct PromSample {
  std::string name;  // as written: `x`, or `x_bucket`, `x_sum`, `x_count` in a histogram
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
  int line = 0;
};

struct PromFamily {
  std::string name;
  std::string type = "untyped";     // counter, gauge, histogram, summary, untyped
  std::optional<std::string> help;  // unescaped
  std::vector<PromSample> samples;
};

struct PromError {
  int line = 0;  // 1-based; for whole-series checks, the line of the sample concerned
  std::string code;
  std::string message;
};

struct ParseResult {
  std::vector<PromFamily> families;  // in order of first appearance
  std::vector<PromError> errors;

  bool ok() const { return errors.empty(); }
  bool has_error(std::string_view code) const;
  // "line 3: duplicate_type: ..." one per line, for test failure messages.
  std::string error_text() const;

  const PromFamily* family(std::string_view name) const;
  // The value of the one sample named `sample_name` whose labels include all of `labels`;
  // empty when none or several match. For a counter, gauge or untyped family the sample name is
  // the family name; for a histogram ask for `x_count`, `x_sum` or `x_bucket` with `le`.
  std::optional<double> value(std::string_view sample_name,
                              const std::map<std::string, std::string>& labels = {}) const;
  // The sum over all samples named `sample_name` whose labels include all of `labels`.
  double sum(std::string_view sample_name, const std::map<std::string, std::string>& labels = {}) const;
};

ParseResult parse_prometheus_text(std::string_view text);

}  // namespace weir::testing
