// The partial aggregates of one open window: taken value by value, answered when it closes,
// saved and read back bit for bit (doubles as their bits, since a JSON number read back may
// differ from the one written in its last place).
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "window/sketch.hpp"

namespace weir::components::window {

using Millis = std::int64_t;

enum class Fn { count, sum, avg, min, max, first, last, stddev, percentile };

// Whether `fn` takes numbers only (a value of another type fails the record).
bool needs_number(Fn fn);

struct SketchShape {
  double alpha = 0.01;
  std::uint32_t max_bins = 2048;
};

class Aggregate {
 public:
  Aggregate(Fn fn, const SketchShape& shape);

  // `v` is not null; a number when needs_number(fn). `t`: the record's event time.
  void add(const boost::json::value& v, Millis t);
  // Takes in the values of `other` (same fn): two sessions that became one.
  void merge(const Aggregate& other);
  // The result; `p` is the percentile's rank in [0, 1].
  boost::json::value result(double p) const;
  boost::json::value save() const;
  bool read(const boost::json::value& v, std::string& why);
  // An estimate of the memory it takes beyond sizeof(Aggregate).
  std::size_t extra_bytes() const;

 private:
  Fn fn_;
  std::uint64_t n_ = 0;  // values taken
  bool ints_ = true;     // sum/avg: every value so far an integer and the sum fits int64
  std::int64_t isum_ = 0;
  double dsum_ = 0;
  double mean_ = 0, m2_ = 0;  // stddev (Welford)
  boost::json::value value_;  // min, max, first, last
  Millis at_ = 0;             // first, last: the event time of value_
  std::optional<Sketch> sketch_;
};

// JSON values with their doubles as bits, for a state that reads back exactly.
boost::json::value encode_exact(const boost::json::value& v);
bool decode_exact(const boost::json::value& v, boost::json::value& out);
boost::json::value double_bits(double d);
bool read_double_bits(const boost::json::value* v, double& out);

}  // namespace weir::components::window
