#include "window/windows.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "sdk/expr/expr.hpp"
#include "window/event_time.hpp"

namespace weir::components::window {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

Millis floor_div(Millis a, Millis b) {
  Millis q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}

// Record ids hold no space: the key's JSON with spaces, '%', '@' and control characters
// percent-encoded (which keeps it unique), then "@<start>".
std::string result_id(const std::string& key, Millis start) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string id;
  id.reserve(key.size() + 24);
  for (const unsigned char c : key) {
    if (c <= 0x20 || c == '%' || c == '@' || c == 0x7f) {
      id += '%';
      id += hex[c >> 4];
      id += hex[c & 15];
    } else {
      id += static_cast<char>(c);
    }
  }
  return id + "@" + std::to_string(start);
}

const char* fn_name(Fn fn) {
  static constexpr const char* names[] = {"count", "sum",  "avg",    "min",       "max",
                                          "first", "last", "stddev", "percentile"};
  return names[static_cast<int>(fn)];
}

std::size_t group_bytes(const json::array& group) {
  std::size_t n = group.capacity() * sizeof(json::value);
  for (const auto& v : group)
    if (v.is_string()) n += v.get_string().size();
  return n;
}

}  // namespace

Window::Window(const Config& config, const sdk::Context& ctx)
    : config_(config),
      out_(ctx.output("out")),
      late_(ctx.output("late")),
      shape_{config.accuracy, config.percentile_bins} {
  for (const auto& [name, _] : config_.group_by) group_names_.push_back(name);
  for (const auto& [name, a] : config_.aggregates) {
    agg_names_.push_back(name);
    agg_specs_.push_back(&a);
  }
  const auto natural = config_.kind == WindowKind::session ? config_.gap : config_.size;
  idle_ms_ = (config_.idle_timeout > 0ms ? config_.idle_timeout : natural).count();
}

std::chrono::milliseconds Window::tick_interval() const {
  const auto natural = config_.kind == WindowKind::session ? config_.gap : config_.size;
  return std::max(1ms,
                  std::min({std::chrono::milliseconds(1s), natural, std::chrono::milliseconds(idle_ms_)}));
}

bool Window::read_inputs(const sdk::Record& rec, Millis& t, json::array& group,
                         std::vector<const json::value*>& values, std::vector<json::value>& keep,
                         std::string& why) const {
  sdk::expr::EvalError err;
  if (config_.time.program) {
    json::value tv;
    if (!config_.time.program->eval(rec.value, tv, err)) {
      why = "time: " + err.message;
      return false;
    }
    if (!event_time(tv, t, why)) return false;
  } else {
    t = now();
  }
  for (const auto& [name, e] : config_.group_by) {
    if (!e.program->eval(rec.value, group.emplace_back(nullptr), err)) {
      why = "group_by " + name + ": " + err.message;
      return false;
    }
  }
  static const json::value counted = true;
  keep.resize(agg_specs_.size());
  values.assign(agg_specs_.size(), nullptr);
  for (std::size_t i = 0; i < agg_specs_.size(); ++i) {
    const auto& a = *agg_specs_[i];
    if (!a.of.program) {
      values[i] = &counted;
      continue;
    }
    if (!a.of.program->eval(rec.value, keep[i], err)) {
      why = "aggregate " + agg_names_[i] + ": " + err.message;
      return false;
    }
    if (keep[i].is_null()) continue;
    if (needs_number(a.fn) && !keep[i].is_number()) {
      why = "aggregate " + agg_names_[i] + " (" + fn_name(a.fn) + ") needs a number, got " +
            std::string(sdk::detail::kind_name(keep[i]));
      return false;
    }
    values[i] = &keep[i];
  }
  return true;
}

void Window::place(Millis t, std::vector<Target>& targets, std::vector<Target>& missed) const {
  const Millis size = config_.size.count();
  const Millis step = config_.kind == WindowKind::hopping ? config_.hop.count() : size;
  // From the earliest window holding t to the latest: starts are multiples of `step`.
  const Millis latest = floor_div(t, step) * step;
  Millis start = latest;
  while (start - step > t - size) start -= step;
  for (; start <= latest; start += step)
    (start + size > watermark_ ? targets : missed).push_back({start, start + size});
}

Millis Window::session_end(Millis start, Millis last) const {
  const Millis end = last + config_.gap.count();
  return config_.max_duration > 0ms ? std::min(end, start + config_.max_duration.count()) : end;
}

Window::SessionPlan Window::plan_session(const std::string& key, Millis t) const {
  const Millis gap = config_.gap.count(), max = config_.max_duration.count();
  const auto first = open_.lower_bound({key, none});
  for (auto it = first; it != open_.end() && it->first.first == key; ++it)
    if (it->second.start <= t && t < it->second.end) return {SessionPlan::join, it->second.start, {}};
  for (auto it = first; it != open_.end() && it->first.first == key; ++it) {
    const Open& s = it->second;
    if (t < s.start && t + gap > s.start) {
      const Millis end = session_end(t, s.last);
      if ((max == 0 || s.last < t + max) && end > watermark_) return {SessionPlan::extend, s.start, {t, end}};
      break;
    }
  }
  const Target w{t, session_end(t, t)};
  return {w.end > watermark_ ? SessionPlan::open : SessionPlan::late, t, w};
}

Window::Open& Window::open_window(const std::string& key, const json::array& group, const Target& w) {
  auto [it, fresh] = open_.try_emplace({key, w.start});
  Open& o = it->second;
  if (fresh) {
    o.group = group;
    o.start = w.start;
    o.end = w.end;
    o.last = w.start;
    o.aggs.reserve(agg_specs_.size());
    for (const auto* a : agg_specs_) o.aggs.emplace_back(a->fn, shape_);
    by_end_.emplace(w.end, key, w.start);
  }
  return o;
}

void Window::add(Open& w, Millis t, const std::vector<const json::value*>& values) {
  ++w.count;
  w.last = std::max(w.last, t);
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i]) w.aggs[i].add(*values[i], t);
}

void Window::set_end(const std::string& key, Open& w, Millis end) {
  if (end == w.end) return;
  auto node = by_end_.extract({w.end, key, w.start});
  std::get<0>(node.value()) = end;
  by_end_.insert(std::move(node));
  w.end = end;
}

void Window::rekey(const std::string& key, Millis old_start, Millis new_start) {
  auto node = open_.extract({key, old_start});
  auto end_node = by_end_.extract({node.mapped().end, key, old_start});
  std::get<2>(end_node.value()) = new_start;
  by_end_.insert(std::move(end_node));
  node.key().second = new_start;
  node.mapped().start = new_start;
  open_.insert(std::move(node));
}

// Sessions of one key that overlap after a change become one, unless max_duration forbids it
// or the merged session would end at or before the watermark (it would close out of order).
void Window::merge_following(const std::string& key, Millis start) {
  auto it = open_.find({key, start});
  for (auto next = std::next(it); next != open_.end() && next->first.first == key; next = std::next(it)) {
    Open& a = it->second;
    const Open& b = next->second;
    if (a.end <= b.start) return;
    const Millis last = std::max(a.last, b.last), end = session_end(a.start, last);
    if ((config_.max_duration > 0ms && last >= a.start + config_.max_duration.count()) || end <= watermark_)
      return;
    a.count += b.count;
    for (std::size_t i = 0; i < a.aggs.size(); ++i) a.aggs[i].merge(b.aggs[i]);
    a.last = last;
    erase(next);
    set_end(key, a, end);
    account(a, key);
  }
}

void Window::account(Open& w, const std::string& key) {
  // The map and set nodes (about four pointers each), the key held twice, the group, aggregates.
  std::size_t n = sizeof(Open) + sizeof(std::tuple<Millis, std::string, Millis>) + 8 * sizeof(void*) +
                  2 * key.size() + group_bytes(w.group);
  for (const auto& a : w.aggs) n += sizeof(Aggregate) + a.extra_bytes();
  bytes_ = bytes_ - w.bytes + n;
  w.bytes = n;
}

void Window::erase(std::map<Key, Open>::iterator it) {
  bytes_ -= it->second.bytes;
  by_end_.erase({it->second.end, it->first.first, it->first.second});
  open_.erase(it);
}

void Window::move_watermark(Millis to) {
  if (to <= watermark_) return;
  watermark_ = to;
  watermark_gauge_ = to;
}

void Window::close_due(sdk::TimedEmitter& out) {
  while (!by_end_.empty() && std::get<0>(*by_end_.begin()) <= watermark_) {
    const auto [end, key, start] = *by_end_.begin();
    auto it = open_.find({key, start});
    Open& w = it->second;
    json::object o;
    for (std::size_t i = 0; i < group_names_.size(); ++i) o[group_names_[i]] = std::move(w.group[i]);
    o["window_start"] = start;
    o["window_end"] = end;
    o["count"] = w.count;
    for (std::size_t i = 0; i < agg_names_.size(); ++i) o[agg_names_[i]] = w.aggs[i].result(agg_specs_[i]->p);
    sdk::Record result{result_id(key, start), std::move(o)};
    erase(it);
    ++closed_;
    out.emit_at(end, out_, std::move(result));
  }
}

void Window::process(sdk::Record&& rec, sdk::Emitter& emitter) {
  auto& out = static_cast<sdk::TimedEmitter&>(emitter);
  last_record_ = now();
  Millis t = 0;
  json::array group;
  std::vector<const json::value*> values;
  std::vector<json::value> keep;
  std::string why;
  if (!read_inputs(rec, t, group, values, keep, why)) {
    out.fail(std::move(rec), why);
    return;
  }
  // The watermark moves first: what closes by this record's time is out before it is placed (the
  // windows of t end after t, so they are not among them), which frees room under max_keys.
  max_time_ = std::max(max_time_, t);
  move_watermark(max_time_ - config_.allowed_lateness.count());
  close_due(out);
  const std::string key = json::serialize(group);
  std::vector<Target> targets, missed;
  SessionPlan plan{};
  if (config_.kind == WindowKind::session) {
    plan = plan_session(key, t);
    if (plan.what == SessionPlan::late) missed.push_back(plan.window);
  } else {
    place(t, targets, missed);
  }
  std::size_t fresh = plan.what == SessionPlan::open ? 1 : 0;
  if (config_.kind != WindowKind::session)
    for (const auto& w : targets) fresh += open_.count({key, w.start}) == 0 ? 1 : 0;
  if (fresh > 0 && open_.size() + fresh > config_.max_keys) {
    ++full_;
    out.fail(std::move(rec), "state full: " + std::to_string(open_.size()) + " open windows, max_keys is " +
                                 std::to_string(config_.max_keys));
    publish_size();
    return;
  }
  const bool counted = !targets.empty() || plan.what == SessionPlan::join || plan.what == SessionPlan::extend;
  if (config_.kind != WindowKind::session) {
    for (const auto& w : targets) {
      Open& o = open_window(key, group, w);
      add(o, t, values);
      account(o, key);
    }
  } else if (plan.what != SessionPlan::late) {
    if (plan.what == SessionPlan::extend) rekey(key, plan.start, t);
    const Millis start = plan.what == SessionPlan::join ? plan.start : t;
    Open& o = plan.what == SessionPlan::open ? open_window(key, group, plan.window) : open_.at({key, start});
    add(o, t, values);
    set_end(key, o, session_end(o.start, o.last));
    account(o, key);
    merge_following(key, start);
  }
  if (!missed.empty()) {
    ++late_count_;
    json::array windows;
    for (const auto& w : missed)
      windows.push_back(json::object{{"window_start", w.start}, {"window_end", w.end}});
    json::object late{{"reason", "late: event time " + std::to_string(t) +
                                     " falls in a window closed at watermark " + std::to_string(watermark_)},
                      {"time", t},
                      {"watermark", watermark_},
                      {"missed", std::move(windows)},
                      {"counted", counted}};
    late["record"] = counted ? json::value(rec.value) : std::move(rec.value);
    out.emit(late_, sdk::Record{rec.id, std::move(late)});
  }
  publish_size();
}

void Window::advance(sdk::Millis now, sdk::TimedEmitter& out) {
  // With processing time the clock is the event time; with event time, only once input stopped.
  const bool idle = last_record_ != none && now - last_record_ >= idle_ms_;
  if (!config_.time.program || idle) move_watermark(now - config_.allowed_lateness.count());
  close_due(out);
  publish_size();
}

void Window::publish_size() {
  keys_gauge_ = open_.size();
  bytes_gauge_ = bytes_;
}

sdk::StateSize Window::state_size() const {
  return {open_.size(), bytes_};
}

void Window::metrics(std::vector<sdk::Metric>& out) const {
  auto d = [](auto v) { return static_cast<double>(v); };
  out.push_back({"state_keys", d(keys_gauge_.load()), true, "open windows (over all keys)"});
  out.push_back({"state_bytes", d(bytes_gauge_.load()), true, "estimated memory of the open windows"});
  out.push_back({"watermark_ms", d(watermark_gauge_.load()), true, "the watermark, ms since the epoch"});
  out.push_back({"windows_closed", d(closed_.load()), false, "results emitted"});
  out.push_back({"late", d(late_count_.load()), false, "records sent to the late port"});
  out.push_back({"state_full", d(full_.load()), false, "records sent to error because max_keys was reached"});
}

}  // namespace weir::components::window
