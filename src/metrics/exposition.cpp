#include "metrics/exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace weir::metrics {
namespace {

bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool name_char(char c, bool colon) {
  return name_start(c, colon) || (c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty() || !name_start(name[0], colon)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return name_char(c, colon); });
}

[[noreturn]] void misuse(std::string_view family, std::string_view what) {
  throw std::invalid_argument("metrics: family \"" + std::string(family) + "\": " + std::string(what));
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing past U+10FFFF), 0 if there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `name{a="x",b="y"} value\n`; `extra` is appended as the last label (the `le` of a bucket).
void append_sample(std::string& out, std::string_view name, const Labels& labels, const Label* extra,
                   double value) {
  out += name;
  if (!labels.empty() || extra) {
    out += '{';
    bool first = true;
    const auto one = [&](const Label& l) {
      if (!first) out += ',';
      first = false;
      out += l.name;
      out += "=\"";
      append_escaped(out, l.value, true);
      out += '"';
    };
    for (const auto& l : labels) one(l);
    if (extra) one(*extra);
    out += '}';
  }
  out += ' ';
  out += format_value(value);
  out += '\n';
}

// Label names cannot contain '=', so "name=len:value" per label, sorted, is unambiguous.
std::string series_key(const Labels& labels) {
  std::vector<const Label*> sorted;
  sorted.reserve(labels.size());
  for (const auto& l : labels) sorted.push_back(&l);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::string key;
  for (const auto* l : sorted) {
    key += l->name;
    key += '=';
    key += std::to_string(l->value.size());
    key += ':';
    key += l->value;
  }
  return key;
}

constexpr std::string_view histogram_suffixes[] = {"_bucket", "_sum", "_count"};

}  // namespace

std::string_view type_name(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
    case Type::untyped:
      break;
  }
  return "untyped";
}

bool valid_metric_name(std::string_view name) {
  return valid_name(name, true);
}

bool valid_label_name(std::string_view name) {
  return valid_name(name, false) && !name.starts_with("__");
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::abs(v) <= 0x1p53) {
    return std::to_string(static_cast<std::int64_t>(v));
  }
  // Shortest round-trip digits; fixed notation unless that would need leading zeros past
  // 0.0001 or the value is a huge integer (where trailing zeros would fake precision).
  char buf[64];
  const auto fmt =
      (std::abs(v) < 1e-4 || std::abs(v) > 0x1p53) ? std::chars_format::scientific : std::chars_format::fixed;
  const auto r = std::to_chars(buf, buf + sizeof buf, v, fmt);
  return std::string(buf, r.ptr);
}

Exposition::Family& Exposition::family(std::string_view name, Type type, std::string_view help) {
  const std::string clean_help = sanitize_utf8(help);
  if (const auto it = index_.find(std::string(name)); it != index_.end()) {
    Family& f = families_[it->second];
    if (f.type != type) {
      misuse(name,
             "added as both " + std::string(type_name(f.type)) + " and " + std::string(type_name(type)));
    }
    if (f.help != clean_help) misuse(name, "added with two different help texts");
    return f;
  }
  if (!valid_metric_name(name)) misuse(name, "invalid metric name");
  if (type == Type::counter && !name.ends_with("_total")) misuse(name, "counter name must end in _total");
  // The parser of the 0.0.4 format attaches `x_count` to a histogram `x`: keep them apart.
  for (const auto suffix : histogram_suffixes) {
    if (type == Type::histogram && index_.count(std::string(name) + std::string(suffix))) {
      misuse(name, "histogram clashes with family " + std::string(name) + std::string(suffix));
    }
    if (name.ends_with(suffix)) {
      const auto base = index_.find(std::string(name.substr(0, name.size() - suffix.size())));
      if (base != index_.end() && families_[base->second].type == Type::histogram) {
        misuse(name, "clashes with histogram " + base->first);
      }
    }
  }
  index_.emplace(std::string(name), families_.size());
  families_.push_back(Family{std::string(name), type, clean_help, {}, {}});
  return families_.back();
}

bool Exposition::admit(Family& f, Labels& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string& n = labels[i].name;
    if (!valid_label_name(n)) misuse(f.name, "invalid label name \"" + n + "\"");
    if (f.type == Type::histogram && n == "le") misuse(f.name, "histogram series cannot have label le");
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].name == n) misuse(f.name, "label \"" + n + "\" given twice");
    }
    labels[i].value = sanitize_utf8(labels[i].value);
  }
  if (!f.keys.insert(series_key(labels)).second) {
    ++dropped_duplicates_;
    return false;
  }
  return true;
}

void Exposition::add(std::string_view family_name, Type type, std::string_view help, Labels labels,
                     double value) {
  if (type == Type::histogram) misuse(family_name, "histograms are added with add_histogram");
  if (type == Type::counter && !(value >= 0)) misuse(family_name, "counter value is negative or NaN");
  Family& f = family(family_name, type, help);
  if (!admit(f, labels)) return;
  f.series.push_back(Series{std::move(labels), value, {}});
}

void Exposition::add_histogram(std::string_view family_name, std::string_view help, Labels labels,
                               const HistogramSnapshot& h) {
  bool ok = h.cumulative.size() == h.bounds.size() + 1;
  for (std::size_t i = 0; ok && i < h.bounds.size(); ++i) {
    ok = std::isfinite(h.bounds[i]) && (i == 0 || h.bounds[i - 1] < h.bounds[i]) &&
         h.cumulative[i] <= h.cumulative[i + 1];
  }
  if (!ok) misuse(family_name, "histogram snapshot: bounds not increasing or counts not cumulative");
  Family& f = family(family_name, Type::histogram, help);
  if (!admit(f, labels)) return;
  f.series.push_back(Series{std::move(labels), 0, h});
}

std::string Exposition::str() const {
  std::string out;
  for (const auto& f : families_) {
    if (!f.help.empty()) {
      out += "# HELP ";
      out += f.name;
      out += ' ';
      append_escaped(out, f.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    if (f.type != Type::histogram) {
      for (const auto& s : f.series) append_sample(out, f.name, s.labels, nullptr, s.value);
      continue;
    }
    const std::string bucket = f.name + "_bucket";
    for (const auto& s : f.series) {
      const auto& h = s.histogram;
      Label le{"le", ""};
      for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
        le.value = i < h.bounds.size() ? format_value(h.bounds[i]) : "+Inf";
        append_sample(out, bucket, s.labels, &le, static_cast<double>(h.cumulative[i]));
      }
      append_sample(out, f.name + "_sum", s.labels, nullptr, h.sum);
      // The +Inf bucket, not h.count: a snapshot built by hand may disagree, the text may not.
      append_sample(out, f.name + "_count", s.labels, nullptr, static_cast<double>(h.cumulative.back()));
    }
  }
  return out;
}

}  // namespace weir::metrics
