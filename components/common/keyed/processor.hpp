// What the keyed processors (dedupe, throttle, deadband) share around their table: the saved form
// of their state and its check at load, their metrics, the way a record's time is read, and the
// docs of the fields they have in common.
//
// Saved state is JSON text:
//   {"state": "<type>/1", "config": {...}, "newest": <ms or null>, ..., "keys": [[key, ...], ...]}
// `config` holds the fields that shape the state (not the bound or which ports get copies), so a
// state saved under another config is refused at load; `keys` lists the table oldest first.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/keyed/table.hpp"
#include "common/keyed/time.hpp"
#include "sdk/field.hpp"
#include "sdk/state.hpp"

namespace weir::components::keyed {

// The config as JSON without the fields in `ignore`.
boost::json::value config_shape(boost::json::value config, std::initializer_list<std::string_view> ignore);

// Parses `saved` and checks it is a state of `type` saved under `shape`; `out` is then the whole
// object (its "keys" an array of non-empty arrays whose first item is a string).
sdk::Status read_state(std::string_view saved, std::string_view type, const boost::json::value& shape,
                       boost::json::object& out);
void write_state(boost::json::object&& state, std::string& out);
// An integer in ms; a number.
bool read_millis(const boost::json::value& v, Millis& out);
bool read_number(const boost::json::value& v, double& out);

// Counters a component reports, plus the state_keys and state_bytes gauges and the evicted count.
class Figures {
 public:
  std::atomic<std::uint64_t>& counter(std::string name, std::string help);
  void state(sdk::StateSize size, std::uint64_t evicted) {
    keys_ = size.keys;
    bytes_ = size.bytes;
    evicted_ = evicted;
  }
  void append(std::vector<sdk::Metric>& out) const;

 private:
  struct Counter {
    std::string name, help;
    std::atomic<std::uint64_t> value{0};
  };
  std::deque<Counter> counters_;
  std::atomic<std::uint64_t> keys_{0}, bytes_{0}, evicted_{0};
};

// The fields the keyed processors have in common. `none` says what no key means.
sdk::FieldOpts key_field(std::string_view none, boost::json::value example);
sdk::FieldOpts time_field(std::string_view what_for);
sdk::FieldOpts lateness_field(std::string_view what, boost::json::value example);
sdk::FieldOpts max_keys_field();

// Reads a record's time and lets through the records that are not late: one whose time fails
// goes to error, one older than the newest time seen by more than the lateness to `late`.
class TimeGate {
 public:
  TimeGate(const sdk::Expression& time, std::chrono::milliseconds lateness, sdk::Port late,
           std::atomic<std::uint64_t>& late_count)
      : time_(time), lateness_(to_ms(lateness)), late_(late), late_count_(late_count) {}
  // True with the record's time in `t`; false when the record went to error or `late`.
  bool admit(sdk::Record& rec, Millis processing, Watermark& newest, sdk::Emitter& out, Millis& t) const;
  Millis lateness() const { return lateness_; }

 private:
  EventTime time_;
  Millis lateness_;
  sdk::Port late_;
  std::atomic<std::uint64_t>& late_count_;
};

// The base of dedupe, throttle and deadband: a bounded table of V by key, the newest time seen,
// and save/load of both. V has heap_bytes(), `void save(boost::json::array&) const` (what
// follows the key) and `bool load(const boost::json::array& entry)` (the key at [0]).
template <class V>
class KeyedProcessor : public sdk::StatefulProcessor {
 public:
  void save(std::string& out) const override {
    boost::json::object state{{"state", type_ + "/1"}, {"config", shape_}, {"newest", watermark_.to_json()}};
    save_more(state);
    boost::json::array keys;
    keys.reserve(table_.size());
    for (const auto& e : table_.entries()) {
      boost::json::array entry{boost::json::string(e.key)};
      e.value.save(entry);
      keys.push_back(std::move(entry));
    }
    state["keys"] = std::move(keys);
    write_state(std::move(state), out);
  }

  sdk::Status load(std::string_view saved) override {
    boost::json::object state;
    auto st = read_state(saved, type_, shape_, state);
    if (st && (!watermark_.from_json(state["newest"]) || !load_more(state)))
      st = sdk::Status::error(type_ + " state: bad \"newest\" or counters");
    table_.clear();
    if (!st) return reset_after(st);
    for (const auto& item : state["keys"].get_array()) {
      const auto& entry = item.get_array();
      V v{};
      if (!v.load(entry) || table_.find(entry[0].get_string()) != table_.end()) {
        table_.clear();
        return reset_after(sdk::Status::error(type_ + " state: a bad or repeated entry for key " +
                                              std::string(entry[0].get_string())));
      }
      table_.insert(std::string(entry[0].get_string()), std::move(v));
    }
    publish();
    return sdk::Status::ok();
  }

  sdk::StateSize state_size() const override { return table_.state_size(); }
  void metrics(std::vector<sdk::Metric>& out) const override { figures_.append(out); }

 protected:
  // `config` is the component's whole config; the fields in `ignore` (the bound, the ports that
  // get copies) do not shape the state.
  KeyedProcessor(std::string type, boost::json::value config, std::initializer_list<std::string_view> ignore,
                 std::int64_t max_keys)
      : type_(std::move(type)),
        shape_(config_shape(std::move(config), ignore)),
        table_(static_cast<std::size_t>(max_keys)) {}

  // Lets go of the least recently seen keys whose newest time is at or before `horizon` (V has
  // `Millis newest() const`); counts them in `expired` when given.
  void expire(Millis horizon, std::atomic<std::uint64_t>* expired = nullptr) {
    while (table_.size() > 0 && table_.begin()->value.newest() <= horizon) {
      table_.erase(table_.begin());
      if (expired) ++*expired;
    }
  }

  // A component's own state besides the table (saved beside it).
  virtual void save_more(boost::json::object&) const {}
  virtual bool load_more(const boost::json::object&) { return true; }
  virtual void reset_more() {}

  // The gauges after a change.
  void publish() { figures_.state(table_.state_size(), table_.evicted()); }

  std::string type_;
  boost::json::value shape_;
  KeyedTable<V> table_;
  Watermark watermark_;
  Figures figures_;

 private:
  sdk::Status reset_after(sdk::Status st) {
    watermark_ = Watermark{};
    reset_more();
    publish();
    return st;
  }
};

}  // namespace weir::components::keyed
