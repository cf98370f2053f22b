// Time as the keyed processors read it: a record's event time (the `time` expression: ms since
// the epoch, or RFC 3339 text) or its processing time; the newest time seen so far, against
// which a record is late; windows of a fixed size aligned to the epoch.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "sdk/field.hpp"
#include "sdk/state.hpp"

namespace weir::components::keyed {

using sdk::Millis;

inline Millis to_ms(std::chrono::milliseconds d) {
  return d.count();
}

// The start of the window of `size` ms that holds `t`: windows are [k*size, (k+1)*size).
inline Millis window_start(Millis t, Millis size) {
  const Millis q = t / size;
  return (t % size < 0 ? q - 1 : q) * size;
}

// Where a record's time comes from: the `time` expression when given, else its processing time.
class EventTime {
 public:
  explicit EventTime(const sdk::Expression& time) : time_(time) {}
  bool from_record() const { return time_.program != nullptr; }
  // False with the reason when the expression fails or gives neither a number nor RFC 3339 text.
  bool of(const boost::json::value& record, Millis processing, Millis& out, std::string& err) const;

 private:
  static constexpr Millis max_ms = 1'000'000'000'000'000;  // ~31,700 years: room for window arithmetic
  bool eval(const boost::json::value& record, Millis& out, std::string& err) const;
  sdk::Expression time_;
};

// The newest time seen: a record older than it by more than the allowed lateness is late (its
// fellows that could decide it have been let go). It only grows, so a replay of the same records
// gives the same verdicts.
class Watermark {
 public:
  bool late(Millis t, Millis lateness) const { return seen_ && t < newest_ - lateness; }
  void see(Millis t) {
    if (!seen_ || t > newest_) newest_ = t;
    seen_ = true;
  }
  bool seen() const { return seen_; }
  Millis newest() const { return newest_; }
  // What save() writes and load() reads back (null when nothing was seen).
  boost::json::value to_json() const;
  bool from_json(const boost::json::value& v);

 private:
  bool seen_ = false;
  Millis newest_ = std::numeric_limits<Millis>::min();
};

}  // namespace weir::components::keyed
