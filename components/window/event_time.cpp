#include "window/event_time.hpp"

#include <chrono>
#include <cmath>

namespace weir::components::window {

namespace {

// `n` digits at `pos` into `out`; false when they are not all digits.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

// date-time = YYYY-MM-DD ("T" / "t" / " ") hh:mm:ss [.frac] ("Z" / "z" / ("+" / "-") hh:mm)
bool parse_rfc3339(std::string_view s, std::int64_t& ms) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
    return false;
  std::size_t pos = 19;
  int frac_ms = 0;
  if (s[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start) return false;
    for (std::size_t k = pos - start; k < 3; ++k) frac_ms *= 10;
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return false;
    offset_min = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return false;
  }
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                         std::chrono::day(static_cast<unsigned>(d))};
  // A leap second (:60) is taken as the next second, as most systems do.
  if (pos != s.size() || !date.ok() || h > 23 || mi > 59 || sec > 60) return false;
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  ms = ((days * 24 + h) * 60 + mi - offset_min) * 60'000 + sec * 1000LL + frac_ms;
  return true;
}

bool event_time(const boost::json::value& v, std::int64_t& ms, std::string& why) {
  // Beyond ±1e15 ms (about ±31,700 years) a time is surely not one: it is refused before any
  // window arithmetic could overflow.
  constexpr std::int64_t limit = 1'000'000'000'000'000;
  switch (v.kind()) {
    case boost::json::kind::int64:
      ms = v.get_int64();
      break;
    case boost::json::kind::uint64:
      if (v.get_uint64() > static_cast<std::uint64_t>(limit)) {
        why = "time " + std::to_string(v.get_uint64()) + " ms is out of range";
        return false;
      }
      ms = static_cast<std::int64_t>(v.get_uint64());
      break;
    case boost::json::kind::double_: {
      const double d = std::floor(v.get_double());
      if (!(std::fabs(d) <= static_cast<double>(limit))) {
        why = "time " + std::to_string(v.get_double()) + " ms is out of range";
        return false;
      }
      ms = static_cast<std::int64_t>(d);
      break;
    }
    case boost::json::kind::string:
      if (!parse_rfc3339(v.get_string(), ms)) {
        why = "time \"" + std::string(v.get_string()) + "\" is not RFC 3339 (2024-05-01T12:00:00.250Z)";
        return false;
      }
      break;
    case boost::json::kind::null:
      why = "time is missing (null)";
      return false;
    default:
      why = "time must be milliseconds or RFC 3339 text, got a " + std::string(v.is_bool()    ? "boolean"
                                                                               : v.is_array() ? "array"
                                                                                              : "object");
      return false;
  }
  if (ms > limit || ms < -limit) {
    why = "time " + std::to_string(ms) + " ms is out of range";
    return false;
  }
  return true;
}

}  // namespace weir::components::window
