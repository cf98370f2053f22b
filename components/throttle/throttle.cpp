#include "throttle/throttle.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <vector>

#include "common/keyed/processor.hpp"

namespace weir::components::throttle {

using sdk::field;
using namespace std::chrono_literals;

namespace {

using keyed::Millis;

// Per key, the records counted in each interval that can still take a record that is not late.
struct Counts {
  struct Interval {
    Millis start = 0;
    std::int64_t count = 0;
  };
  std::vector<Interval> intervals;  // by start, ascending

  std::size_t heap_bytes() const { return keyed::heap_block(intervals.capacity() * sizeof(Interval)); }
  Millis newest() const { return intervals.back().start; }
  void save(boost::json::array& entry) const {
    for (const auto& i : intervals) entry.push_back(boost::json::array{i.start, i.count});
  }
  bool load(const boost::json::array& entry) {
    for (std::size_t i = 1; i < entry.size(); ++i) {
      const auto* pair = entry[i].if_array();
      Interval in;
      if (!pair || pair->size() != 2 || !keyed::read_millis((*pair)[0], in.start) ||
          !keyed::read_millis((*pair)[1], in.count) || in.count < 1 ||
          (!intervals.empty() && in.start <= intervals.back().start))
        return false;
      intervals.push_back(in);
    }
    return !intervals.empty();
  }
};

class Throttle final : public keyed::KeyedProcessor<Counts> {
 public:
  Throttle(const Config& config, const sdk::Context& ctx)
      : KeyedProcessor("throttle", spec().object().to_json(config), {"max_keys", "emit_dropped"},
                       config.max_keys),
        config_(config),
        interval_(keyed::to_ms(config.interval)),
        out_(ctx.output("out")),
        dropped_port_(ctx.output("dropped")),
        dropped_(figures_.counter("dropped", "Records over the limit of their interval.")),
        time_(
            config.time, config.lateness, ctx.output("late"),
            figures_.counter("late", "Records older than the newest by more than lateness, sent to late.")) {}

  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    std::string err;
    if (!keyed::make_key(config_.key, keyed::NoKey::one_bucket, rec.value, key_, err))
      return out.fail(std::move(rec), err);
    Millis t = 0;
    if (!time_.admit(rec, now(), watermark_, out, t)) return;
    expire(horizon());
    const std::int64_t n = count(keyed::window_start(t, interval_));
    const std::int64_t over = n - config_.limit;
    const bool pass = over <= 0 || (config_.mode == Mode::sample && over % config_.sample_every == 0);
    publish();
    if (pass) return out.emit(out_, std::move(rec));
    ++dropped_;
    if (config_.emit_dropped) out.emit(dropped_port_, std::move(rec));
  }

 private:
  // An interval that ends at or before this can take no record that is not late.
  Millis horizon() const { return watermark_.newest() - time_.lateness() - interval_; }

  // Counts a record of the key in the interval starting at `start`; returns its number there.
  std::int64_t count(Millis start) {
    auto it = table_.find(key_);
    if (it == table_.end()) {
      table_.insert(key_, Counts{{{start, 1}}});
      return 1;
    }
    table_.touch(it);
    std::int64_t n = 0;
    const Millis h = horizon();
    table_.update(it, [&](Counts& c) {
      auto& v = c.intervals;
      v.erase(v.begin(), std::find_if(v.begin(), v.end(), [&](const auto& i) { return i.start > h; }));
      auto at = std::find_if(v.begin(), v.end(), [&](const auto& i) { return i.start >= start; });
      if (at == v.end() || at->start != start) at = v.insert(at, {start, 0});
      n = ++at->count;
    });
    return n;
  }

  std::string key_;
  Config config_;
  Millis interval_;
  sdk::Port out_, dropped_port_;
  std::atomic<std::uint64_t>& dropped_;
  keyed::TimeGate time_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  return sdk::ComponentSpec<Config>{"throttle"}
      .summary("Passes at most `limit` records per `interval` per key.")
      .description(
          "Intervals are fixed windows aligned to the epoch, by the record's `time` (default: its "
          "processing time), so the result depends only on the records and their order. Over the "
          "limit, `mode` `drop` drops the rest of the interval (counted in `dropped`; sent to `dropped` "
          "with `emit_dropped`); `sample` passes one record in every `sample_every` beyond the limit. "
          "A record older than the newest time seen by more than `lateness` goes to `late`. At "
          "`max_keys` the least recently seen key is let go (`evicted`). The state is saved with the "
          "flow's snapshots.")
      .field("key", &Config::key, keyed::key_field("one bucket for all records", "sensor"))
      .field(
          "limit", &Config::limit,
          field().required().doc("Records passed per interval and key.").range(1, 1'000'000'000).example(100))
      .field("interval", &Config::interval,
             field().required().doc("Length of the intervals.").duration_range(1ms, 24h * 365).example("1s"))
      .field(
          "mode", &Config::mode,
          field()
              .doc("What happens over the limit.")
              .option("drop", Mode::drop, "The rest of the interval is dropped.")
              .option("sample", Mode::sample, "One record in every `sample_every` beyond the limit passes."))
      .field("sample_every", &Config::sample_every,
             field()
                 .doc("With mode `sample`: records limit+N, limit+2N, ... of an interval pass.")
                 .range(2, 1'000'000))
      .field("time", &Config::time, keyed::time_field(""))
      .field("lateness", &Config::lateness, keyed::lateness_field("counted in its interval", "5s"))
      .field("max_keys", &Config::max_keys, keyed::max_keys_field())
      .field("emit_dropped", &Config::emit_dropped,
             field().doc("Send dropped records to the `dropped` port."))
      .output("out", "Records within the limit.")
      .output("dropped", "Records over the limit, with `emit_dropped`.")
      .output("late", "Records too late to be counted (older than the newest time by more than `lateness`).")
      .example(boost::json::parse(R"({"id": "calm", "type": "throttle", "inputs": ["sensors"],
                                      "config": {"key": "sensor", "limit": 10, "interval": "1s"}})"))
      .implementation<Throttle>();
}

}  // namespace weir::components::throttle
