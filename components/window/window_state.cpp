// save() and load() of `window`: the open windows with their partial aggregates, the watermark,
// the highest event time and the clock of the last record, as JSON text. Doubles are kept as
// their bits (see aggregate.hpp) so that a run restored from a snapshot emits exactly what the
// uninterrupted run would have.
#include <boost/json.hpp>

#include "window/windows.hpp"

namespace weir::components::window {

namespace json = boost::json;

namespace {

bool read_int(const json::object& o, const char* name, std::int64_t& out) {
  const auto* v = o.if_contains(name);
  if (!v || !v->is_int64()) return false;
  out = v->get_int64();
  return true;
}

}  // namespace

// What a saved state depends on: a state saved under a config that differs here does not load.
// max_keys, allowed_lateness and idle_timeout may change between runs.
std::string Window::fingerprint() const {
  json::object groups, aggs;
  for (const auto& [name, e] : config_.group_by) groups[name] = e.source;
  for (const auto& [name, a] : config_.aggregates)
    aggs[name] = json::object{{"fn", static_cast<int>(a.fn)}, {"of", a.of.source}, {"p", double_bits(a.p)}};
  return json::serialize(json::object{{"kind", static_cast<int>(config_.kind)},
                                      {"size", config_.size.count()},
                                      {"hop", config_.hop.count()},
                                      {"gap", config_.gap.count()},
                                      {"max_duration", config_.max_duration.count()},
                                      {"time", config_.time.source},
                                      {"group_by", std::move(groups)},
                                      {"aggregates", std::move(aggs)},
                                      {"accuracy", double_bits(config_.accuracy)},
                                      {"percentile_bins", config_.percentile_bins}});
}

void Window::save(std::string& out) const {
  json::array windows;
  for (const auto& [key, w] : open_) {
    json::array aggs;
    for (const auto& a : w.aggs) aggs.push_back(a.save());
    windows.push_back(json::object{{"g", encode_exact(w.group)},
                                   {"s", w.start},
                                   {"e", w.end},
                                   {"l", w.last},
                                   {"c", w.count},
                                   {"a", std::move(aggs)}});
  }
  out = json::serialize(json::object{{"v", 1},
                                     {"config", fingerprint()},
                                     {"watermark", watermark_},
                                     {"max_time", max_time_},
                                     {"last_record", last_record_},
                                     {"windows", std::move(windows)}});
}

void Window::clear() {
  open_.clear();
  by_end_.clear();
  watermark_ = max_time_ = last_record_ = none;
  bytes_ = 0;
  publish_size();
}

sdk::Status Window::load(std::string_view saved) {
  clear();
  auto fail = [this](const std::string& why) {
    clear();
    return sdk::Status::error("window state: " + why);
  };
  std::error_code ec;
  const auto doc = json::parse(saved, ec);
  const auto* o = ec ? nullptr : doc.if_object();
  const auto* version = o ? o->if_contains("v") : nullptr;
  if (!version || !version->is_int64() || version->get_int64() != 1) return fail("not a saved window state");
  const auto* cfg = o->if_contains("config");
  if (!cfg || !cfg->is_string() || cfg->get_string() != fingerprint())
    return fail("saved under another config (kind, sizes, time, group_by or aggregates changed)");
  const auto* windows = o->if_contains("windows");
  if (!read_int(*o, "watermark", watermark_) || !read_int(*o, "max_time", max_time_) ||
      !read_int(*o, "last_record", last_record_) || !windows || !windows->is_array())
    return fail("a field is missing or of the wrong type");
  for (const auto& item : windows->get_array()) {
    const auto* w = item.if_object();
    json::value group;
    Target bounds{};
    Millis last = 0;
    const auto* count = w ? w->if_contains("c") : nullptr;
    const auto* aggs = w ? w->if_contains("a") : nullptr;
    if (!w || !decode_exact(w->contains("g") ? w->at("g") : json::value(), group) || !group.is_array() ||
        group.get_array().size() != group_names_.size() || !read_int(*w, "s", bounds.start) ||
        !read_int(*w, "e", bounds.end) || !read_int(*w, "l", last) || !count || !count->is_number() ||
        !aggs || !aggs->is_array() || aggs->get_array().size() != agg_specs_.size() ||
        bounds.end <= bounds.start || bounds.end <= watermark_)
      return fail("a window that does not fit this config");
    const std::string key = json::serialize(group);
    if (open_.count({key, bounds.start})) return fail("a window saved twice");
    Open& open = open_window(key, group.get_array(), bounds);
    open.last = last;
    open.count = count->to_number<std::uint64_t>(ec);
    if (ec) return fail("a window's count is not a count");
    for (std::size_t i = 0; i < open.aggs.size(); ++i) {
      std::string why;
      if (!open.aggs[i].read(aggs->get_array()[i], why)) return fail(why);
    }
    account(open, key);
  }
  if (watermark_ != none) watermark_gauge_ = watermark_;
  publish_size();
  return sdk::Status::ok();
}

}  // namespace weir::components::window
