#include "window/aggregate.hpp"

#include <boost/json.hpp>

#include <bit>
#include <cmath>

namespace weir::components::window {

namespace json = boost::json;

bool needs_number(Fn fn) {
  return fn != Fn::count && fn != Fn::first && fn != Fn::last;
}

Aggregate::Aggregate(Fn fn, const SketchShape& shape) : fn_(fn) {
  if (fn == Fn::percentile) sketch_.emplace(shape.alpha, shape.max_bins);
}

namespace {

bool exact_int(const json::value& v, std::int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
    return true;
  }
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    out = static_cast<std::int64_t>(v.get_uint64());
    return true;
  }
  return false;
}

}  // namespace

void Aggregate::add(const json::value& v, Millis t) {
  const bool first_value = n_ == 0;
  ++n_;
  switch (fn_) {
    case Fn::count:
      return;
    case Fn::sum:
    case Fn::avg: {
      std::int64_t i = 0;
      std::int64_t total = 0;
      if (ints_ && exact_int(v, i) && !__builtin_add_overflow(isum_, i, &total)) {
        isum_ = total;
        return;
      }
      if (ints_) dsum_ = static_cast<double>(isum_);
      ints_ = false;
      dsum_ += v.to_number<double>();
      return;
    }
    case Fn::min:
    case Fn::max: {
      const double x = v.to_number<double>();
      if (first_value || (fn_ == Fn::min ? x < value_.to_number<double>() : x > value_.to_number<double>()))
        value_ = v;
      return;
    }
    case Fn::first:
    case Fn::last:
      // Ties keep the earlier arrival for first and the later one for last.
      if (first_value || (fn_ == Fn::first ? t < at_ : t >= at_)) {
        value_ = v;
        at_ = t;
      }
      return;
    case Fn::stddev: {
      const double x = v.to_number<double>();
      const double delta = x - mean_;
      mean_ += delta / static_cast<double>(n_);
      m2_ += delta * (x - mean_);
      return;
    }
    case Fn::percentile:
      sketch_->add(v.to_number<double>());
      return;
  }
}

void Aggregate::merge(const Aggregate& o) {
  if (o.n_ == 0) return;
  const bool empty = n_ == 0;
  switch (fn_) {
    case Fn::count:
      break;
    case Fn::sum:
    case Fn::avg: {
      std::int64_t total = 0;
      if (ints_ && o.ints_ && !__builtin_add_overflow(isum_, o.isum_, &total)) {
        isum_ = total;
        break;
      }
      dsum_ =
          (ints_ ? static_cast<double>(isum_) : dsum_) + (o.ints_ ? static_cast<double>(o.isum_) : o.dsum_);
      ints_ = false;
      break;
    }
    case Fn::min:
    case Fn::max: {
      const double x = o.value_.to_number<double>();
      if (empty || (fn_ == Fn::min ? x < value_.to_number<double>() : x > value_.to_number<double>()))
        value_ = o.value_;
      break;
    }
    case Fn::first:
    case Fn::last:
      if (empty || (fn_ == Fn::first ? o.at_ < at_ : o.at_ >= at_)) {
        value_ = o.value_;
        at_ = o.at_;
      }
      break;
    case Fn::stddev: {  // Chan et al.'s pairwise update
      const double na = static_cast<double>(n_), nb = static_cast<double>(o.n_), n = na + nb;
      const double delta = o.mean_ - mean_;
      mean_ += delta * nb / n;
      m2_ += o.m2_ + delta * delta * na * nb / n;
      break;
    }
    case Fn::percentile:
      sketch_->merge(*o.sketch_);
      break;
  }
  n_ += o.n_;
}

json::value Aggregate::result(double p) const {
  switch (fn_) {
    case Fn::count:
      return n_;
    case Fn::sum:
      return ints_ ? json::value(isum_) : json::value(dsum_);
    case Fn::avg:
      if (n_ == 0) return nullptr;
      return (ints_ ? static_cast<double>(isum_) : dsum_) / static_cast<double>(n_);
    case Fn::min:
    case Fn::max:
    case Fn::first:
    case Fn::last:
      return value_;
    case Fn::stddev:  // population: the values are the whole window, not a sample of it
      if (n_ == 0) return nullptr;
      return std::sqrt(m2_ / static_cast<double>(n_));
    case Fn::percentile:
      if (n_ == 0) return nullptr;
      return sketch_->quantile(p);
  }
  return nullptr;
}

json::value double_bits(double d) {
  return std::bit_cast<std::uint64_t>(d);
}

bool read_double_bits(const json::value* v, double& out) {
  if (!v || !(v->is_uint64() || (v->is_int64() && v->get_int64() >= 0))) return false;
  out = std::bit_cast<double>(v->is_uint64() ? v->get_uint64() : static_cast<std::uint64_t>(v->get_int64()));
  return true;
}

// Doubles become ["f", bits], arrays ["a", [...]], objects ["o", {...}]: an untagged array never
// appears, so decoding is unambiguous.
json::value encode_exact(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return json::array{"f", double_bits(v.get_double())};
    case json::kind::array: {
      json::array items;
      for (const auto& x : v.get_array()) items.push_back(encode_exact(x));
      return json::array{"a", std::move(items)};
    }
    case json::kind::object: {
      json::object members;
      for (const auto& kv : v.get_object()) members[kv.key()] = encode_exact(kv.value());
      return json::array{"o", std::move(members)};
    }
    default:
      return v;
  }
}

bool decode_exact(const json::value& v, json::value& out) {
  if (!v.is_array()) {
    if (v.is_double()) return false;
    out = v;
    return true;
  }
  const auto& tagged = v.get_array();
  if (tagged.size() != 2 || !tagged[0].is_string()) return false;
  const auto& tag = tagged[0].get_string();
  if (tag == "f") {
    double d = 0;
    if (!read_double_bits(&tagged[1], d)) return false;
    out = d;
    return true;
  }
  if (tag == "a" && tagged[1].is_array()) {
    json::array items;
    for (const auto& x : tagged[1].get_array()) {
      if (!decode_exact(x, items.emplace_back(nullptr))) return false;
    }
    out = std::move(items);
    return true;
  }
  if (tag == "o" && tagged[1].is_object()) {
    json::object members;
    for (const auto& kv : tagged[1].get_object()) {
      if (!decode_exact(kv.value(), members[kv.key()])) return false;
    }
    out = std::move(members);
    return true;
  }
  return false;
}

json::value Aggregate::save() const {
  json::object o{{"n", n_}};
  switch (fn_) {
    case Fn::count:
      break;
    case Fn::sum:
    case Fn::avg:
      if (ints_)
        o["i"] = isum_;
      else
        o["d"] = double_bits(dsum_);
      break;
    case Fn::first:
    case Fn::last:
      o["t"] = at_;
      [[fallthrough]];
    case Fn::min:
    case Fn::max:
      o["v"] = encode_exact(value_);
      break;
    case Fn::stddev:
      o["m"] = double_bits(mean_);
      o["m2"] = double_bits(m2_);
      break;
    case Fn::percentile:
      o["s"] = sketch_->save();
      break;
  }
  return o;
}

bool Aggregate::read(const json::value& v, std::string& why) {
  why = "an aggregate that does not fit this config";
  const auto* o = v.if_object();
  const json::value* n = o ? o->if_contains("n") : nullptr;
  if (!n || !n->is_number()) return false;
  std::error_code ec;
  n_ = n->to_number<std::uint64_t>(ec);
  if (ec) return false;
  switch (fn_) {
    case Fn::count:
      return true;
    case Fn::sum:
    case Fn::avg: {
      const auto* i = o->if_contains("i");
      ints_ = i != nullptr;
      if (ints_) {
        if (!i->is_int64()) return false;
        isum_ = i->get_int64();
        return true;
      }
      return read_double_bits(o->if_contains("d"), dsum_);
    }
    case Fn::first:
    case Fn::last: {
      const auto* t = o->if_contains("t");
      if (!t || !t->is_int64()) return false;
      at_ = t->get_int64();
      [[fallthrough]];
    }
    case Fn::min:
    case Fn::max: {
      const auto* x = o->if_contains("v");
      // min and max compare their value as a number: a saved one that is not is refused here.
      return x && decode_exact(*x, value_) &&
             (n_ == 0 || fn_ == Fn::first || fn_ == Fn::last || value_.is_number());
    }
    case Fn::stddev:
      return read_double_bits(o->if_contains("m"), mean_) && read_double_bits(o->if_contains("m2"), m2_);
    case Fn::percentile: {
      const auto* s = o->if_contains("s");
      return s && sketch_->read(*s, why) && sketch_->count() == n_;
    }
  }
  return false;
}

namespace {

std::size_t json_bytes(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return v.get_string().size();
    case json::kind::array: {
      std::size_t n = 0;
      for (const auto& x : v.get_array()) n += sizeof(json::value) + json_bytes(x);
      return n;
    }
    case json::kind::object: {
      std::size_t n = 0;
      for (const auto& kv : v.get_object())
        n += sizeof(json::key_value_pair) + kv.key().size() + json_bytes(kv.value());
      return n;
    }
    default:
      return 0;
  }
}

}  // namespace

std::size_t Aggregate::extra_bytes() const {
  // A std::map node: three pointers, a colour and the pair, rounded up by the allocator.
  constexpr std::size_t bin_bytes = 48;
  return json_bytes(value_) + (sketch_ ? sizeof(Sketch) + sketch_->bins() * bin_bytes : 0);
}

}  // namespace weir::components::window
