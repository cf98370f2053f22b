// DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable quantile sketch with
// relative-error guarantees", VLDB 2019): the approximate percentiles of `window`.
//
// A value x > 0 falls in bin i = ceil(log_gamma(x)), gamma = (1 + alpha) / (1 - alpha), which
// holds (gamma^(i-1), gamma^i]; a quantile is answered with 2 gamma^i / (gamma + 1), within a
// relative error alpha of every value of that bin. Negative values use the same bins of |x|, zero
// a counter of its own. At most `max_bins` bins are kept: past that, the bins of the smallest
// magnitudes are merged (collapsed) into their neighbour, so the guarantee holds for every
// quantile whose value lies above the collapsed range, i.e. whenever the values' magnitudes span
// less than a factor gamma^max_bins (1 % and 2048 bins: about 6e17).
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace weir::components::window {

class Sketch {
 public:
  Sketch(double alpha, std::uint32_t max_bins);

  void add(double x);
  // Adds the other's bins (same alpha and bins): the sketch of both sets of values.
  void merge(const Sketch& other);
  std::uint64_t count() const { return count_; }
  // The value of rank floor(q * (count - 1)) among the values added, within alpha (relative);
  // q in [0, 1]. Only for count() > 0.
  double quantile(double q) const;
  std::size_t bins() const { return positive_.size() + negative_.size(); }
  // {"z": zero count, "p": [[bin, count], ...], "n": [...]}; read() rejects what save() cannot make.
  boost::json::value save() const;
  bool read(const boost::json::value& v, std::string& why);

 private:
  int index(double magnitude) const;
  double value(int index) const;
  void collapse();

  double gamma_, log_gamma_;
  std::uint32_t max_bins_;
  std::uint64_t count_ = 0, zero_ = 0;
  std::map<int, std::uint64_t> positive_, negative_;  // bin index of |x| -> count
};

}  // namespace weir::components::window
