#include "window/event_time.hpp"

#include <cmath>

#include "sdk/base/units.hpp"

namespace weir::components::window {

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
      if (auto t = sdk::parse_rfc3339(v.get_string()))
        ms = *t;
      else {
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
