#include "dedupe/dedupe.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <vector>

#include "common/keyed/processor.hpp"

namespace weir::components::dedupe {

using sdk::field;
using namespace std::chrono_literals;

namespace {

using keyed::Millis;

// By count: only that the key is among the last ones. By time: the event times at which records
// of the key passed and that can still decide a record that is not late.
struct Seen {
  std::vector<Millis> passed;  // ascending

  std::size_t heap_bytes() const { return keyed::heap_block(passed.capacity() * sizeof(Millis)); }
  // None (by count, or a saved entry without times): nothing to keep it for.
  Millis newest() const { return passed.empty() ? std::numeric_limits<Millis>::min() : passed.back(); }
  void save(boost::json::array& entry) const {
    for (auto t : passed) entry.push_back(t);
  }
  bool load(const boost::json::array& entry) {
    for (std::size_t i = 1; i < entry.size(); ++i) {
      Millis t = 0;
      if (!keyed::read_millis(entry[i], t) || (!passed.empty() && t <= passed.back())) return false;
      passed.push_back(t);
    }
    return true;
  }
};

class Dedupe final : public keyed::KeyedProcessor<Seen> {
 public:
  Dedupe(const Config& config, const sdk::Context& ctx)
      : KeyedProcessor("dedupe", spec().object().to_json(config), {"max_keys", "emit_duplicates"},
                       config.window_records > 0 ? config.window_records : config.max_keys),
        config_(config),
        by_count_(config.window_records > 0),
        window_(keyed::to_ms(config.window)),
        out_(ctx.output("out")),
        duplicate_(ctx.output("duplicate")),
        dropped_(figures_.counter("dropped", "Records dropped as duplicates.")),
        expired_(figures_.counter("expired", "Keys let go because their window passed.")),
        time_(
            config.time, config.lateness, ctx.output("late"),
            figures_.counter("late", "Records older than the newest by more than lateness, sent to late.")) {}

  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    std::string err;
    if (!keyed::make_key(config_.key, keyed::NoKey::whole_record, rec.value, key_, err))
      return out.fail(std::move(rec), err);
    if (by_count_) {
      if (seen_by_count()) return drop(std::move(rec), out);
    } else {
      Millis t = 0;
      if (!time_.admit(rec, now(), watermark_, out, t)) return;
      expire(horizon(), &expired_);
      if (seen_by_time(t)) return drop(std::move(rec), out);
    }
    publish();
    out.emit(out_, std::move(rec));
  }

 private:
  void drop(sdk::Record&& rec, sdk::Emitter& out) {
    ++dropped_;
    publish();
    if (config_.emit_duplicates) out.emit(duplicate_, std::move(rec));
  }

  // Whether the key is among the last window_records distinct keys; it becomes the newest.
  bool seen_by_count() {
    auto it = table_.find(key_);
    if (it != table_.end()) {
      table_.touch(it);
      return true;
    }
    if (table_.size() >= table_.max_keys()) {
      // The oldest key leaves the window: that is the window, not the max_keys bound.
      table_.erase(table_.begin());
      ++expired_;
    }
    table_.insert(key_, Seen{});
    return false;
  }

  // A pass at or before this can decide no record that is not late.
  Millis horizon() const { return watermark_.newest() - time_.lateness() - window_; }

  // Whether a record of the key passed within the window of t (before or after it); if not, t is
  // a pass.
  bool seen_by_time(Millis t) {
    auto it = table_.find(key_);
    if (it == table_.end()) {
      table_.insert(key_, Seen{{t}});
      return false;
    }
    table_.touch(it);
    bool dup = false;
    const Millis h = horizon();
    table_.update(it, [&](Seen& s) {
      s.passed.erase(s.passed.begin(), std::upper_bound(s.passed.begin(), s.passed.end(), h));
      const auto next = std::lower_bound(s.passed.begin(), s.passed.end(), t);
      dup = (next != s.passed.end() && *next - t < window_) ||
            (next != s.passed.begin() && t - *(next - 1) < window_);
      if (!dup) s.passed.insert(next, t);
    });
    return dup;
  }

  Config config_;
  bool by_count_;
  Millis window_;
  sdk::Port out_, duplicate_;
  std::atomic<std::uint64_t>&dropped_, &expired_;
  keyed::TimeGate time_;
  std::string key_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  return sdk::ComponentSpec<Config>{"dedupe"}
      .summary("Drops records whose key was seen within a window (of time or of records).")
      .description(
          "A record passes on `out` unless a record with the same key passed within `window` of its "
          "time (before or after it), or, with `window_records`, unless its key is among the last "
          "`window_records` distinct keys seen. Duplicates are counted (`dropped`) and, with "
          "`emit_duplicates`, sent to `duplicate`. By time, a record older than the newest time seen by "
          "more than `lateness` goes to `late`. At `max_keys` the least recently seen key is let go "
          "(`evicted`): a record of it passes again. The state is saved with the flow's snapshots.")
      .field("key", &Config::key, keyed::key_field("the whole record", boost::json::array{"sensor", "value"}))
      .field("window", &Config::window,
             field()
                 .doc("Duplicates are records of a key within this time of one that passed (by `time`).")
                 .duration_range(1ms, 24h * 365)
                 .example("10m"))
      .field(
          "window_records", &Config::window_records,
          field()
              .doc("Instead of `window`: duplicates are records whose key is among the last N distinct keys "
                   "seen (0: not used).")
              .range(0, 100'000'000))
      .field("time", &Config::time, keyed::time_field(""))
      .field("lateness", &Config::lateness, keyed::lateness_field("checked", "1m"))
      .field("max_keys", &Config::max_keys, keyed::max_keys_field())
      .field("emit_duplicates", &Config::emit_duplicates,
             field().doc("Send duplicates to the `duplicate` port."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if ((c.window.count() > 0) == (c.window_records > 0))
          lint.error("", "invalid_value",
                     "give exactly one of `window` (a time) and `window_records` (a count)");
        if (c.window_records > c.max_keys)
          lint.error("window_records", "invalid_value",
                     "must not be above max_keys (" + std::to_string(c.max_keys) + ")", "raise max_keys too");
      })
      .output("out", "Records whose key was not seen within the window.")
      .output("duplicate", "Duplicates, with `emit_duplicates`.")
      .output("late", "Records too late to be checked (older than the newest time by more than `lateness`).")
      .example(boost::json::parse(R"({"id": "once", "type": "dedupe", "inputs": ["sensors"],
                                      "config": {"key": "id", "window": "10m"}})"))
      .implementation<Dedupe>();
}

}  // namespace weir::components::dedupe
