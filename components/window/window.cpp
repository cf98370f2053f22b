#include "window/window.hpp"

#include <boost/json.hpp>

#include <cmath>

#include "window/windows.hpp"

namespace weir::components::window {

namespace json = boost::json;
using namespace std::chrono_literals;

sdk::ObjectSpec<AggregateSpec> AggregateSpec::object_spec() {
  using sdk::field;
  return sdk::ObjectSpec<AggregateSpec>{}
      .field("fn", &AggregateSpec::fn,
             field()
                 .required()
                 .doc("The function over the window's values of `of`.")
                 .option("count", Fn::count, "Records (without `of`), or values of `of` that are not null.")
                 .option("sum", Fn::sum,
                         "Sum; an integer while every value is one and it fits 64 bits, 0 with no value.")
                 .option("avg", Fn::avg, "Mean.")
                 .option("min", Fn::min, "Smallest value (as it came).")
                 .option("max", Fn::max, "Largest value (as it came).")
                 .option("first", Fn::first,
                         "Value of the earliest event time (ties: the first to arrive); any JSON.")
                 .option("last", Fn::last,
                         "Value of the latest event time (ties: the last to arrive); any JSON.")
                 .option("stddev", Fn::stddev, "Population standard deviation (Welford's algorithm).")
                 .option("percentile", Fn::percentile,
                         "The value of rank p, approximate within `accuracy` (relative), by DDSketch."))
      .field("of", &AggregateSpec::of,
             field()
                 .doc("Expression over the record whose values are aggregated; null or missing values are "
                      "skipped. Required except for count.")
                 .example("temp"))
      .field("p", &AggregateSpec::p,
             field().range(0, 1).doc("percentile: the rank, 0.5 the median, 0.95 ..."))
      .lint([](const AggregateSpec& a, sdk::Lint& l) {
        if (a.fn != Fn::count && !a.of.program)
          l.error("of", "missing_field", "this function needs `of`: the expression whose values it takes");
      });
}

namespace {

bool reserved(const std::string& name) {
  return name == "window_start" || name == "window_end" || name == "count";
}

void check_config(const Config& c, sdk::Lint& l) {
  const bool sized = c.kind != WindowKind::session;
  // Reported at the config itself: which field is needed depends on `kind`.
  if (sized && c.size <= 0ms)
    l.error("", "invalid_value", "a tumbling or hopping window needs `size`", "add e.g. \"size\": \"1m\"");
  if (!sized && c.gap <= 0ms)
    l.error("", "invalid_value", "a session window needs `gap`", "add e.g. \"gap\": \"30s\"");
  if (!sized && c.size > 0ms) l.error("size", "invalid_value", "`size` is for tumbling and hopping windows");
  if (sized && c.gap > 0ms) l.error("gap", "invalid_value", "`gap` is for session windows");
  if (sized && c.max_duration > 0ms)
    l.error("max_duration", "invalid_value", "`max_duration` is for session windows");
  if (c.kind == WindowKind::hopping) {
    if (c.hop <= 0ms || c.hop > c.size)
      l.error("hop", "invalid_value", "a hopping window needs 0 < `hop` <= `size`");
    else if (c.size / c.hop > max_windows_per_record)
      l.error("hop", "invalid_value",
              "a record would fall in more than " + std::to_string(max_windows_per_record) + " windows",
              "make `hop` at least size / " + std::to_string(max_windows_per_record));
  } else if (c.hop > 0ms) {
    l.error("hop", "invalid_value", "`hop` is for hopping windows");
  }
  // The sketch's guarantee holds over a span of magnitudes of ((1 + a) / (1 - a))^bins.
  const double span_log10 = c.percentile_bins * std::log10((1 + c.accuracy) / (1 - c.accuracy));
  for (const auto& [name, a] : c.aggregates)
    if (a.fn == Fn::percentile && span_log10 < 6) {
      l.warning("percentile_bins", "invalid_value",
                "with this accuracy the bins cover values within a factor 1e" +
                    std::to_string(static_cast<int>(span_log10)) + " of the largest only",
                "raise percentile_bins (the smaller values lose the accuracy)");
      break;
    }
  for (const auto& [name, _] : c.group_by)
    if (reserved(name) || name.empty())
      l.error("group_by", "invalid_value",
              "\"" + name +
                  "\" cannot name a group field (window_start, "
                  "window_end and count are the window's own)");
  for (const auto& [name, _] : c.aggregates)
    if (reserved(name) || name.empty() || c.group_by.count(name))
      l.error("aggregates", "invalid_value", "\"" + name + "\" is already a field of the result",
              "window_start, window_end, count and the group_by names are taken");
}

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"window"}
      .summary(
          "Aggregates records per time window and key: tumbling, hopping or session windows, event time.")
      .description(
          "Groups records by `group_by` into time windows of their event time (`time`, or the "
          "processing time without it) and, when a window closes, emits one record per window and "
          "key: the group fields, window_start, window_end (ms since the epoch, the end "
          "excluded), count, and each aggregate. A window closes when the watermark (the highest "
          "event time seen minus allowed_lateness) reaches its end, or once no record came for "
          "idle_timeout (the watermark then moves to the clock minus allowed_lateness). A record "
          "for a window already closed goes to `late` with the windows it missed; a record "
          "without a valid time, with a value an aggregate cannot take, or that would open a "
          "window past max_keys goes to `error`. State (open windows, partial aggregates, "
          "watermark) survives a restart through the engine's snapshots.")
      .field("kind", &Config::kind,
             field()
                 .doc("The kind of windows.")
                 .option("tumbling", WindowKind::tumbling,
                         "Back to back windows of `size`, aligned to the epoch.")
                 .option("hopping", WindowKind::hopping,
                         "Windows of `size` starting every `hop` (aligned to the epoch): they overlap.")
                 .option("session", WindowKind::session,
                         "Per key, records closer than `gap` to each other; optionally at most "
                         "`max_duration` long."))
      .field("size", &Config::size,
             field().duration_range(1ms, 24h * 366).doc("tumbling, hopping: window length."))
      .field("hop", &Config::hop,
             field().duration_range(1ms, 24h * 366).doc("hopping: time between window starts."))
      .field("gap", &Config::gap,
             field()
                 .duration_range(1ms, 24h * 366)
                 .doc("session: a key's session ends after this long without records."))
      .field("max_duration", &Config::max_duration,
             field()
                 .duration_range(0ms, 24h * 366)
                 .doc("session: longest session; a record later than start + "
                      "max_duration begins a new one. 0: no limit."))
      .field("group_by", &Config::group_by,
             field()
                 .doc("Result field name -> expression: the key. Each key's windows are apart; the values "
                      "(null included) appear in the result under their names.")
                 .example(json::parse(R"({"sensor": "sensor_id"})")))
      .field("aggregates", &Config::aggregates,
             field()
                 .doc("Result field name -> {fn, of, p}. `count` (records in the window) is always there.")
                 .example(json::parse(R"({"avg_temp": {"fn": "avg", "of": "temp"},
                                          "p95": {"fn": "percentile", "of": "temp", "p": 0.95}})")))
      .field(
          "time", &Config::time,
          field()
              .doc("Expression giving the event time: ms since the epoch or RFC 3339 text. Without it, the "
                   "processing time (when the record was stored).")
              .example("ts"))
      .field("allowed_lateness", &Config::allowed_lateness,
             field()
                 .duration_range(0ms, 24h * 366)
                 .doc("How far behind the highest event time seen a record may be "
                      "and still count: the watermark is that time minus this."))
      .field("idle_timeout", &Config::idle_timeout,
             field()
                 .duration_range(0ms, 24h * 366)
                 .doc("After this long without records the watermark moves to the clock minus "
                      "allowed_lateness, so the "
                      "last windows close when input stops. 0: the size (tumbling, hopping) or the gap "
                      "(session)."))
      .field(
          "max_keys", &Config::max_keys,
          field().range(1, 1e9).doc("Most open windows (over all keys) at once; a record that would open one "
                                    "more goes to `error` (\"state full\")."))
      .field("accuracy", &Config::accuracy,
             field().range(0.0001, 0.1).advanced().doc("percentile: relative accuracy alpha of DDSketch."))
      .field("percentile_bins", &Config::percentile_bins,
             field().range(16, 65536).advanced().doc(
                 "percentile: most bins per sketch; past it the smallest magnitudes are merged (the accuracy "
                 "holds while values span less than ((1+a)/(1-a))^bins)."))
      .lint(check_config)
      .output("out", "One record per closed window and key.")
      .output("late", "Records for windows already closed: {reason, watermark, missed, record}.")
      .example(json::parse(R"({"id": "per_minute", "type": "window", "inputs": ["sensors"],
                               "config": {"kind": "tumbling", "size": "1m", "time": "ts",
                                          "group_by": {"sensor": "sensor"},
                                          "aggregates": {"avg_temp": {"fn": "avg", "of": "temp"},
                                                         "max_temp": {"fn": "max", "of": "temp"}}}})"))
      .implementation<Window>();
}

}  // namespace weir::components::window
