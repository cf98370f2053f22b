// The run-time side of `window`: open windows per key, the watermark, closing in order.
#pragma once

#include <boost/json/array.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sdk/state.hpp"
#include "window/window.hpp"

namespace weir::components::window {

// A hopping window's record falls in size / hop windows at most; this bounds the work per record.
constexpr std::int64_t max_windows_per_record = 100;

class Window final : public sdk::StatefulProcessor {
 public:
  Window(const Config& config, const sdk::Context& ctx);

  void process(sdk::Record&& rec, sdk::Emitter& out) override;
  std::chrono::milliseconds tick_interval() const override;
  void advance(sdk::Millis now, sdk::TimedEmitter& out) override;
  void save(std::string& out) const override;
  sdk::Status load(std::string_view saved) override;
  sdk::StateSize state_size() const override;
  void metrics(std::vector<sdk::Metric>& out) const override;

 private:
  struct Open {
    boost::json::array group;  // the group_by values, in name order
    Millis start = 0, end = 0;
    Millis last = 0;  // the highest event time in it (sessions)
    std::uint64_t count = 0;
    std::vector<Aggregate> aggs;  // in name order
    std::size_t bytes = 0;
  };
  using Key = std::pair<std::string, Millis>;  // group as compact JSON, window start
  struct Target {
    Millis start, end;
  };

  bool read_inputs(const sdk::Record& rec, Millis& t, boost::json::array& group,
                   std::vector<const boost::json::value*>& values, std::vector<boost::json::value>& keep,
                   std::string& why) const;
  // The windows of a record at `t`: those still open (`targets`) and those closed (`missed`).
  void place(Millis t, std::vector<Target>& targets, std::vector<Target>& missed) const;
  // What a session's record does: joins the session starting at `start`, extends it back to the
  // record (`window` then the new bounds), opens `window`, or is late for `window`.
  struct SessionPlan {
    enum What { none, join, extend, open, late } what = none;
    Millis start = 0;
    Target window{};
  };
  SessionPlan plan_session(const std::string& key, Millis t) const;
  Open& open_window(const std::string& key, const boost::json::array& group, const Target& w);
  void add(Open& w, Millis t, const std::vector<const boost::json::value*>& values);
  void merge_following(const std::string& key, Millis start);
  Millis session_end(Millis start, Millis last) const;
  void set_end(const std::string& key, Open& w, Millis end);
  void rekey(const std::string& key, Millis old_start, Millis new_start);
  void account(Open& w, const std::string& key);
  void erase(std::map<Key, Open>::iterator it);
  void close_due(sdk::TimedEmitter& out);
  void move_watermark(Millis to);
  void publish_size();
  void clear();
  std::string fingerprint() const;

  Config config_;
  sdk::Port out_, late_;
  std::vector<std::string> group_names_, agg_names_;
  std::vector<const AggregateSpec*> agg_specs_;
  SketchShape shape_;
  Millis idle_ms_;

  std::map<Key, Open> open_;
  std::set<std::tuple<Millis, std::string, Millis>> by_end_;  // end, key, start: closing order
  static constexpr Millis none = INT64_MIN;
  Millis watermark_ = none, max_time_ = none, last_record_ = none;
  std::size_t bytes_ = 0;

  std::atomic<std::uint64_t> keys_gauge_{0}, bytes_gauge_{0}, late_count_{0}, full_{0}, closed_{0};
  std::atomic<std::int64_t> watermark_gauge_{0};
};

}  // namespace weir::components::window
