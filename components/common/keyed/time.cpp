#include "common/keyed/time.hpp"

#include <charconv>
#include <cmath>

#include "sdk/base/json_read.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::keyed {

namespace {

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<Millis> parse_rfc3339(std::string_view s) {
  using namespace std::chrono;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  Millis frac = 0;
  if (i < s.size() && s[i] == '.') {
    std::size_t n = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n)
      if (n < 3) frac = frac * 10 + (s[i] - '0');
    if (n == 0) return std::nullopt;
    for (; n < 3; ++n) frac *= 10;
  }
  Millis offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om) ||
        oh > 23 || om > 59)
      return std::nullopt;
    offset = (s[i] == '+' ? 1 : -1) * (oh * 60 + om) * 60'000LL;
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const Millis days_ms = sys_days{ymd}.time_since_epoch().count() * 86'400'000LL;
  return days_ms + ((h * 60 + mi) * 60 + se) * 1000LL + frac - offset;
}

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
    if (auto t = parse_rfc3339(v.get_string())) {
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
