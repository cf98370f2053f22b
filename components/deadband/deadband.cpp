#include "deadband/deadband.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/keyed/processor.hpp"
#include "sdk/base/json_read.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::deadband {

using sdk::field;
using namespace std::chrono_literals;

namespace {

using keyed::Millis;

// Per key: the last value passed and when; with heartbeat_emit also that record, to report again.
struct Last {
  double value = 0;
  Millis at = 0;
  std::string id;    // with heartbeat_emit
  std::string json;  // with heartbeat_emit: the record as compact JSON

  void save(boost::json::array& entry) const {
    entry.push_back(value);
    entry.push_back(at);
    if (!id.empty()) {
      entry.push_back(boost::json::string(id));
      entry.push_back(boost::json::string(json));
    }
  }
  bool load(const boost::json::array& entry) {
    if ((entry.size() != 3 && entry.size() != 5) || !keyed::read_number(entry[1], value) ||
        !keyed::read_millis(entry[2], at))
      return false;
    if (entry.size() == 3) return true;
    if (!entry[3].is_string() || !entry[4].is_string()) return false;
    id = entry[3].get_string();
    json = entry[4].get_string();
    return !id.empty();
  }
  std::size_t heap_bytes() const { return keyed::heap_block(id) + keyed::heap_block(json); }
};

class Deadband final : public keyed::KeyedProcessor<Last> {
 public:
  Deadband(const Config& config, const sdk::Context& ctx)
      : KeyedProcessor("deadband", spec().object().to_json(config), {"max_keys", "emit_dropped"},
                       config.max_keys),
        config_(config),
        time_(config.time),
        heartbeat_(keyed::to_ms(config.heartbeat)),
        out_(ctx.output("out")),
        dropped_port_(ctx.output("dropped")),
        dropped_(figures_.counter("dropped", "Records within the band, not passed.")),
        heartbeats_(
            figures_.counter("heartbeats", "Records passed again by heartbeat_emit for a silent key.")) {}

  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    std::string err;
    double v = 0;
    if (!number(rec.value, v, err)) return out.fail(std::move(rec), err);
    if (!keyed::make_key(config_.key, keyed::NoKey::one_bucket, rec.value, key_, err))
      return out.fail(std::move(rec), err);
    Millis t = 0;
    if (heartbeat_ > 0 && !time_.of(rec.value, now(), t, err)) return out.fail(std::move(rec), err);

    auto it = table_.find(key_);
    const bool pass = it == table_.end() || outside(v, it->value.value) ||
                      (heartbeat_ > 0 && t - it->value.at >= heartbeat_);
    if (!pass) {
      table_.touch(it);
      ++dropped_;
      publish();
      if (config_.emit_dropped) out.emit(dropped_port_, std::move(rec));
      return;
    }
    Last last{v, t, {}, {}};
    if (config_.heartbeat_emit) {
      last.id = rec.id;
      sdk::write_json(last.json, rec.value);
    }
    if (it == table_.end()) {
      table_.insert(key_, std::move(last));
    } else {
      table_.touch(it);
      table_.update(it, [&](Last& l) { l = std::move(last); });
    }
    publish();
    out.emit(out_, std::move(rec));
  }

  std::chrono::milliseconds tick_interval() const override {
    if (!config_.heartbeat_emit) return std::chrono::milliseconds(0);
    return std::min(config_.heartbeat, std::chrono::milliseconds(1000));
  }

  // Each key silent for a heartbeat or more reports its last passed record again, at the latest
  // heartbeat moment due (last pass + k * heartbeat <= now), as "<that record's id>@heartbeat:<ms>".
  void advance(Millis now, sdk::TimedEmitter& out) override {
    if (!config_.heartbeat_emit) return;
    std::vector<std::pair<Millis, std::string>> due;
    for (const auto& e : table_.entries()) {
      if (e.value.id.empty() || now - e.value.at < heartbeat_) continue;
      const Millis at = e.value.at + (now - e.value.at) / heartbeat_ * heartbeat_;
      // Moments must not go back: one before the last emitted (a record processed late set the
      // key's time back) waits for the next heartbeat.
      if (at >= last_at_) due.emplace_back(at, e.key);
    }
    std::sort(due.begin(), due.end());
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    for (const auto& d : due) {
      const Millis at = d.first;
      const std::string& key = d.second;
      auto it = table_.find(key);
      boost::system::error_code ec;
      auto value = sdk::parse_json(it->value.json, ec);
      if (ec) continue;  // written by save() from a record: only a state edited by hand fails here
      table_.update(it, [&](Last& l) { l.at = at; });
      last_at_ = at;
      ++heartbeats_;
      out.emit_at(at, out_, sdk::Record{it->value.id + "@heartbeat:" + std::to_string(at), std::move(value)});
    }
  }

 private:
  bool number(const boost::json::value& rec, double& out, std::string& err) const {
    boost::json::value v;
    sdk::expr::EvalError e;
    if (!config_.value.program->eval(rec, v, e)) {
      err = "value: " + e.message;
      return false;
    }
    if (keyed::read_number(v, out)) return true;
    err = std::string("value: ") + sdk::kind_name(v) + " is not a number";
    return false;
  }

  // Whether v is outside the band around the last passed value.
  bool outside(double v, double last) const {
    const double delta = std::fabs(v - last);
    if (config_.band == 0 && config_.band_percent == 0) return delta > 0;
    return (config_.band > 0 && delta > config_.band) ||
           (config_.band_percent > 0 && delta > config_.band_percent / 100 * std::fabs(last));
  }

  void save_more(boost::json::object& state) const override { state["last_at"] = last_at_; }
  bool load_more(const boost::json::object& state) override {
    const auto* v = state.if_contains("last_at");
    return v && keyed::read_millis(*v, last_at_);
  }
  void reset_more() override { last_at_ = 0; }

  Config config_;
  keyed::EventTime time_;
  Millis heartbeat_;
  sdk::Port out_, dropped_port_;
  std::atomic<std::uint64_t>&dropped_, &heartbeats_;
  std::string key_;
  Millis last_at_ = 0;  // the latest moment emitted by advance()
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  return sdk::ComponentSpec<Config>{"deadband"}
      .summary("Passes a record only when its value moved out of a band around the last one passed.")
      .description(
          "Per key, the first record passes; after it a record passes when |value - last passed value| "
          "is above `band`, or above `band_percent` percent of the last passed value (either, when both "
          "are given; any change when neither is), or when `heartbeat` has passed since the key's last "
          "passed record (by `time`, checked when a record arrives). With `heartbeat_emit`, a key "
          "silent for a heartbeat reports its last passed record again, from the clock. A value that is "
          "not a number goes to `error`. At `max_keys` the least recently seen key is let go "
          "(`evicted`): its next record passes as a first one. The state is saved with the flow's "
          "snapshots.")
      .field("key", &Config::key, keyed::key_field("one series for all records", "sensor"))
      .field("value", &Config::value,
             field().required().doc("Expression giving the number to watch.").example("value"))
      .field("band", &Config::band,
             field().doc("Pass when the value moved by more than this (0: not used).").min(0).example(0.5))
      .field(
          "band_percent", &Config::band_percent,
          field()
              .doc("Pass when the value moved by more than this percentage of the last passed value (0: not "
                   "used).")
              .min(0)
              .example(5))
      .field("heartbeat", &Config::heartbeat,
             field()
                 .doc("Pass a record anyway when this much time passed since the key's last passed one (0: "
                      "never).")
                 .duration_range(0ms, 24h * 365)
                 .example("5m"))
      .field("heartbeat_emit", &Config::heartbeat_emit,
             field().doc(
                 "Also report a silent key's last passed record again every `heartbeat`, from the clock."))
      .field("time", &Config::time, keyed::time_field(" for `heartbeat`"))
      .field("max_keys", &Config::max_keys, keyed::max_keys_field())
      .field("emit_dropped", &Config::emit_dropped,
             field().doc("Send records within the band to the `dropped` port."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (c.heartbeat_emit && c.heartbeat.count() == 0)
          lint.error("heartbeat_emit", "invalid_value", "needs `heartbeat`");
        if (c.heartbeat_emit && c.time.program)
          lint.error("heartbeat_emit", "invalid_value",
                     "works by the clock, so the records' time must be their processing time",
                     "leave `time` out");
      })
      .output("out", "Records out of the band, first ones, and heartbeats.")
      .output("dropped", "Records within the band, with `emit_dropped`.")
      .example(boost::json::parse(R"({"id": "changes", "type": "deadband", "inputs": ["sensors"],
                                      "config": {"key": "sensor", "value": "value", "band": 0.5}})"))
      .implementation<Deadband>();
}

}  // namespace weir::components::deadband
