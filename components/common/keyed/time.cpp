#include "common/keyed/time.hpp"

#include <cmath>

#include "sdk/base/json_read.hpp"
#include "sdk/base/units.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::keyed {

bool EventTime::of(const boost::json::value& record, Millis processing, Millis& out, std::string& err) const {
  if (!time_.program) {
    out = processing;
    return true;
  }
  if (!eval(record, out, err)) return false;
  if (out < -max_ms || out > max_ms) {
    err = "time: " + std::to_string(out) + " ms is out of range (more than 30,000 years from 1970)";
    return false;
  }
  return true;
}

bool EventTime::eval(const boost::json::value& record, Millis& out, std::string& err) const {
  boost::json::value v;
  sdk::expr::EvalError e;
  if (!time_.program->eval(record, v, e)) {
    err = "time: " + e.message;
    return false;
  }
  if (v.is_int64()) {
    out = v.get_int64();
    return true;
  }
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<Millis>::max())) {
    out = static_cast<Millis>(v.get_uint64());
    return true;
  }
  if (v.is_double() && std::isfinite(v.get_double()) && std::fabs(v.get_double()) < 9e18) {
    out = static_cast<Millis>(std::floor(v.get_double()));
    return true;
  }
  if (v.is_string()) {
    if (auto t = sdk::parse_rfc3339(v.get_string())) {
      out = *t;
      return true;
    }
    err = "time: \"" + std::string(v.get_string()) + "\" is not RFC 3339 (2026-12-07T10:00:00.250Z)";
    return false;
  }
  err = std::string("time: ") + sdk::kind_name(v) + ", expected ms since the epoch or RFC 3339 text";
  return false;
}

boost::json::value Watermark::to_json() const {
  return seen_ ? boost::json::value(newest_) : boost::json::value(nullptr);
}

bool Watermark::from_json(const boost::json::value& v) {
  if (v.is_null()) {
    *this = Watermark{};
    return true;
  }
  if (!v.is_int64()) return false;
  seen_ = true;
  newest_ = v.get_int64();
  return true;
}

}  // namespace weir::components::keyed
