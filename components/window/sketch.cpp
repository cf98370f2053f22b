#include "window/sketch.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <iterator>

namespace weir::components::window {

namespace json = boost::json;

Sketch::Sketch(double alpha, std::uint32_t max_bins)
    : gamma_((1 + alpha) / (1 - alpha)), log_gamma_(std::log(gamma_)), max_bins_(max_bins) {}

int Sketch::index(double magnitude) const {
  return static_cast<int>(std::ceil(std::log(magnitude) / log_gamma_));
}

double Sketch::value(int index) const {
  return 2 * std::pow(gamma_, index) / (gamma_ + 1);
}

void Sketch::add(double x) {
  ++count_;
  if (x > 0)
    ++positive_[index(x)];
  else if (x < 0)
    ++negative_[index(-x)];
  else
    ++zero_;
  if (bins() > max_bins_) collapse();
}

void Sketch::merge(const Sketch& other) {
  count_ += other.count_;
  zero_ += other.zero_;
  for (const auto& [i, n] : other.positive_) positive_[i] += n;
  for (const auto& [i, n] : other.negative_) negative_[i] += n;
  while (bins() > max_bins_) collapse();
}

// The two bins of the smallest magnitudes in the fuller side become one.
void Sketch::collapse() {
  auto& side = positive_.size() >= negative_.size() ? positive_ : negative_;
  auto lowest = side.begin();
  auto next = std::next(lowest);
  next->second += lowest->second;
  side.erase(lowest);
}

double Sketch::quantile(double q) const {
  const auto rank = static_cast<std::uint64_t>(std::floor(q * static_cast<double>(count_ - 1)));
  std::uint64_t seen = 0;
  for (auto it = negative_.rbegin(); it != negative_.rend(); ++it) {
    seen += it->second;
    if (seen > rank) return -value(it->first);
  }
  seen += zero_;
  if (seen > rank) return 0;
  for (const auto& [i, n] : positive_) {
    seen += n;
    if (seen > rank) return value(i);
  }
  return positive_.empty() ? 0 : value(positive_.rbegin()->first);
}

namespace {

json::array bins_json(const std::map<int, std::uint64_t>& bins) {
  json::array out;
  for (const auto& [i, n] : bins) out.push_back(json::array{i, n});
  return out;
}

bool read_bins(const json::value* v, std::map<int, std::uint64_t>& out, std::uint64_t& total) {
  if (!v || !v->is_array()) return false;
  for (const auto& b : v->get_array()) {
    const auto* pair = b.if_array();
    if (!pair || pair->size() != 2 || !(*pair)[0].is_int64() || !(*pair)[1].is_number()) return false;
    const auto i = (*pair)[0].get_int64();
    std::error_code ec;
    const auto n = (*pair)[1].to_number<std::uint64_t>(ec);
    if (ec || n == 0 || i < INT32_MIN || i > INT32_MAX || !out.emplace(static_cast<int>(i), n).second)
      return false;
    total += n;
  }
  return true;
}

}  // namespace

json::value Sketch::save() const {
  return json::object{{"z", zero_}, {"p", bins_json(positive_)}, {"n", bins_json(negative_)}};
}

bool Sketch::read(const json::value& v, std::string& why) {
  positive_.clear();
  negative_.clear();
  const auto* o = v.if_object();
  const json::value* z = o ? o->if_contains("z") : nullptr;
  std::error_code ec;
  zero_ = z && z->is_number() ? z->to_number<std::uint64_t>(ec) : 0;
  count_ = zero_;
  if (!z || ec || !read_bins(o->if_contains("p"), positive_, count_) ||
      !read_bins(o->if_contains("n"), negative_, count_) || bins() > max_bins_) {
    why = "a percentile sketch that does not fit this config";
    return false;
  }
  return true;
}

}  // namespace weir::components::window
