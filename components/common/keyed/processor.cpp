#include "common/keyed/processor.hpp"

#include <boost/json.hpp>

#include "sdk/base/json_read.hpp"
#include "sdk/base/json_write.hpp"

namespace weir::components::keyed {

boost::json::value config_shape(boost::json::value config, std::initializer_list<std::string_view> ignore) {
  if (auto* obj = config.if_object())
    for (auto name : ignore) obj->erase(name);
  return config;
}

sdk::Status read_state(std::string_view saved, std::string_view type, const boost::json::value& shape,
                       boost::json::object& out) {
  const std::string what = std::string(type) + " state: ";
  boost::system::error_code ec;
  auto v = sdk::parse_json(saved, ec);
  if (ec) return sdk::Status::error(what + "not JSON (" + ec.message() + ")");
  auto* obj = v.if_object();
  const auto* tag = obj ? obj->if_contains("state") : nullptr;
  if (!tag || !tag->is_string() || tag->get_string() != std::string(type) + "/1")
    return sdk::Status::error(what + "not a state of " + std::string(type) + " (format 1)");
  const auto* config = obj->if_contains("config");
  if (!config || *config != shape)
    return sdk::Status::error(what + "saved under another config (" +
                              (config ? sdk::to_json(*config) : std::string("none")) + ", now " +
                              sdk::to_json(shape) + ")");
  const auto* keys = obj->if_contains("keys");
  if (!keys || !keys->is_array()) return sdk::Status::error(what + "no \"keys\" array");
  for (const auto& e : keys->get_array())
    if (!e.is_array() || e.get_array().empty() || !e.get_array()[0].is_string())
      return sdk::Status::error(what + "an entry of \"keys\" is not [key, ...]");
  out = std::move(*obj);
  return sdk::Status::ok();
}

void write_state(boost::json::object&& state, std::string& out) {
  out.clear();
  sdk::write_json(out, boost::json::value(std::move(state)));
}

bool read_millis(const boost::json::value& v, Millis& out) {
  if (!v.is_int64()) return false;
  out = v.get_int64();
  return true;
}

bool read_number(const boost::json::value& v, double& out) {
  if (v.is_double()) {
    out = v.get_double();
    return true;
  }
  if (v.is_int64()) {
    out = static_cast<double>(v.get_int64());
    return true;
  }
  if (v.is_uint64()) {
    out = static_cast<double>(v.get_uint64());
    return true;
  }
  return false;
}

sdk::FieldOpts key_field(std::string_view none, boost::json::value example) {
  return sdk::field()
      .doc("Expression, or list of expressions, whose values (as compact JSON) make the key; default: " +
           std::string(none) + ".")
      .example(std::move(example));
}

sdk::FieldOpts time_field(std::string_view what_for) {
  return sdk::field()
      .doc("Expression giving the record's time" + std::string(what_for) +
           ": ms since the epoch, or RFC 3339 text; default: its processing time.")
      .example("ts");
}

sdk::FieldOpts lateness_field(std::string_view what, boost::json::value example) {
  using namespace std::chrono_literals;
  return sdk::field()
      .doc("How much older than the newest time seen a record may be and still be " + std::string(what) +
           "; older ones go to `late`.")
      .duration_range(0ms, 24h * 30)
      .example(std::move(example));
}

sdk::FieldOpts max_keys_field() {
  return sdk::field()
      .doc("At most this many keys are kept; the least recently seen goes first.")
      .range(1, 100'000'000);
}

bool TimeGate::admit(sdk::Record& rec, Millis processing, Watermark& newest, sdk::Emitter& out,
                     Millis& t) const {
  std::string err;
  if (!time_.of(rec.value, processing, t, err)) {
    out.fail(std::move(rec), err);
    return false;
  }
  if (newest.late(t, lateness_)) {
    ++late_count_;
    out.emit(late_, std::move(rec));
    return false;
  }
  newest.see(t);
  return true;
}

std::atomic<std::uint64_t>& Figures::counter(std::string name, std::string help) {
  auto& c = counters_.emplace_back();
  c.name = std::move(name);
  c.help = std::move(help);
  return c.value;
}

void Figures::append(std::vector<sdk::Metric>& out) const {
  out.push_back({"state_keys", static_cast<double>(keys_.load()), true, "Keys held in the state."});
  out.push_back({"state_bytes", static_cast<double>(bytes_.load()), true,
                 "An estimate of the memory the state takes, in bytes."});
  out.push_back({"evicted", static_cast<double>(evicted_.load()), false,
                 "Keys let go at the max_keys bound (the least recently seen first)."});
  for (const auto& c : counters_) out.push_back({c.name, static_cast<double>(c.value.load()), false, c.help});
}

}  // namespace weir::components::keyed
