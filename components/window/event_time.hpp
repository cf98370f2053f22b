// A record's event time as the `time` expression gives it: milliseconds since the Unix epoch
// (a number) or RFC 3339 text.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace weir::components::window {

// Milliseconds (a fraction is cut toward minus infinity) or RFC 3339 text
// ("2024-05-01T12:00:00.250Z", "…+02:00"; sub-millisecond digits are cut). False with `why`
// for anything else: another type, a number out of range, a malformed or impossible date.
bool event_time(const boost::json::value& v, std::int64_t& ms, std::string& why);

}  // namespace weir::components::window
