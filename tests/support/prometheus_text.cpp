#include "support/prometheus_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

namespace weir::testing {
namespace {

using LabelMap = std::map<std::string, std::string>;

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool name_char(char c, bool colon) {
  return name_start(c, colon) || (c >= '0' && c <= '9');
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      lo = c == 0xE0 ? 0xA0 : 0x80;
      hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      lo = c == 0xF0 ? 0x90 : 0x80;
      hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
    }
    i += n;
  }
  return true;
}

// Go's strconv.ParseFloat as the Prometheus text parser uses it: decimal with optional sign
// and exponent, "Inf"/"Infinity" with optional sign and "NaN" in any case; no hex, no '_'.
bool parse_go_float(std::string_view s, double& out) {
  std::string_view body = s;
  const bool negative = !body.empty() && body[0] == '-';
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  if (iequals(body, "inf") || iequals(body, "infinity")) {
    out = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (iequals(s, "nan")) {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  std::size_t i = 0, digits = 0;
  const auto run = [&] {
    std::size_t n = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++n;
    return n;
  };
  digits += run();
  if (i < body.size() && body[i] == '.') {
    ++i;
    digits += run();
  }
  if (digits == 0) return false;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    if (run() == 0) return false;
  }
  if (i != body.size()) return false;
  std::string text = negative ? "-" + std::string(body) : std::string(body);
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  if (r.ec == std::errc::result_out_of_range) {
    // Underflow reads as 0 or a denormal in Go, overflow is an error.
    out = std::strtod(text.c_str(), nullptr);
    return std::isfinite(out);
  }
  return r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

bool parse_int64(std::string_view s, std::int64_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+') return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

std::string series_key(std::string_view name, const LabelMap& labels, std::string_view skip = {}) {
  std::string key(name);
  for (const auto& [k, v] : labels) {
    if (k == skip) continue;
    key += '\0';
    key += k;
    key += '=';
    key += std::to_string(v.size());
    key += ':';
    key += v;
  }
  return key;
}

// One line at a time; `pos_` walks the current line.
class Parser {
 public:
  ParseResult run(std::string_view text);

 private:
  struct FamilyState {
    bool typed = false;
    int last_line = 0;
  };

  void error(std::string code, std::string message) {
    result_.errors.push_back(PromError{line_no_, std::move(code), std::move(message)});
  }
  void skip_blanks() {
    while (pos_ < line_.size() && is_blank(line_[pos_])) ++pos_;
  }
  bool at_end() const { return pos_ >= line_.size(); }
  std::string_view token() {
    const std::size_t start = pos_;
    while (pos_ < line_.size() && !is_blank(line_[pos_])) ++pos_;
    return line_.substr(start, pos_ - start);
  }

  void parse_line();
  void parse_comment();
  bool parse_labels(LabelMap& labels);
  bool parse_label_value(std::string& out);
  void parse_sample();
  std::size_t enter(const std::string& family_name);
  std::size_t resolve(const std::string& sample_name);
  void check_sample(PromFamily& f, const PromSample& s);
  void check_family(const PromFamily& f);
  void check_series(const PromFamily& f, const std::vector<const PromSample*>& series);

  ParseResult result_;
  std::vector<FamilyState> state_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::optional<std::size_t> current_;
  std::set<std::string> series_;
  std::string_view line_;
  std::size_t pos_ = 0;
  int line_no_ = 0;
};

ParseResult Parser::run(std::string_view text) {
  std::string_view rest = text;
  while (!rest.empty()) {
    ++line_no_;
    const auto eol = rest.find('\n');
    line_ = rest.substr(0, eol);
    pos_ = 0;
    parse_line();
    if (eol == std::string_view::npos) {
      error("missing_newline", "the last line does not end with \\n");
      break;
    }
    rest.remove_prefix(eol + 1);
  }
  for (const auto& f : result_.families) check_family(f);
  return std::move(result_);
}

void Parser::parse_line() {
  skip_blanks();
  if (at_end()) return;
  if (line_[pos_] == '#') {
    ++pos_;
    parse_comment();
  } else {
    parse_sample();
  }
}

void Parser::parse_comment() {
  skip_blanks();
  const std::string_view keyword = token();
  if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment
  skip_blanks();
  if (at_end()) return;  // "# HELP" alone is a plain comment too
  const std::string name(token());
  if (name.empty() || !name_start(name[0], true) ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") !=
          std::string::npos) {
    error("bad_metric_name", "invalid metric name \"" + name + "\" in # " + std::string(keyword));
    return;
  }
  const std::size_t fi = enter(name);
  PromFamily& f = result_.families[fi];
  skip_blanks();
  if (keyword == "HELP") {
    std::string help;
    for (; pos_ < line_.size(); ++pos_) {
      if (line_[pos_] != '\\') {
        help += line_[pos_];
      } else if (pos_ + 1 < line_.size() && (line_[pos_ + 1] == '\\' || line_[pos_ + 1] == 'n')) {
        help += line_[++pos_] == 'n' ? '\n' : '\\';
      } else {
        error("bad_escape", "HELP of " + name + ": only \\\\ and \\n are escapes");
        return;
      }
    }
    if (!valid_utf8(help)) error("bad_utf8", "HELP of " + name + " is not UTF-8");
    if (f.help) error("duplicate_help", "second HELP for " + name);
    f.help = std::move(help);
    return;
  }
  const std::string type(token());
  skip_blanks();
  if (!at_end()) {
    error("bad_type", "text after the type of " + name);
  } else if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
             type != "untyped") {
    error("bad_type", "unknown type \"" + type + "\" for " + name);
  } else if (state_[fi].typed) {
    error("duplicate_type", "second TYPE for " + name);
  } else if (!f.samples.empty()) {
    error("type_after_samples", "TYPE for " + name + " after its samples");
  } else {
    state_[fi].typed = true;
    f.type = type;
  }
}

// The family's lines must be one group: re-entering a family left earlier is an error.
std::size_t Parser::enter(const std::string& family_name) {
  const auto it = index_.find(family_name);
  std::size_t fi = 0;
  if (it == index_.end()) {
    fi = result_.families.size();
    index_.emplace(family_name, fi);
    result_.families.push_back(PromFamily{family_name, "untyped", std::nullopt, {}});
    state_.push_back({});
  } else {
    fi = it->second;
    if (current_ != fi) {
      error("non_contiguous", family_name + " continues after another family's lines (last line " +
                                  std::to_string(state_[fi].last_line) + ")");
    }
  }
  current_ = fi;
  state_[fi].last_line = line_no_;
  return fi;
}

// A sample's family: its own name, else `x` for `x_bucket`/`x_sum`/`x_count` when `x` is a
// histogram (or `x_sum`/`x_count` of a summary), else a new untyped family.
std::size_t Parser::resolve(const std::string& sample_name) {
  if (index_.count(sample_name)) return enter(sample_name);
  for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!sample_name.ends_with(suffix)) continue;
    const auto it = index_.find(sample_name.substr(0, sample_name.size() - suffix.size()));
    if (it == index_.end()) continue;
    const std::string& type = result_.families[it->second].type;
    if (type == "histogram" || (type == "summary" && suffix != "_bucket")) return enter(it->first);
  }
  return enter(sample_name);
}

bool Parser::parse_label_value(std::string& out) {
  if (at_end() || line_[pos_] != '"') {
    error("bad_label_value", "label value does not start with a double quote");
    return false;
  }
  for (++pos_; pos_ < line_.size(); ++pos_) {
    const char c = line_[pos_];
    if (c == '"') {
      ++pos_;
      if (!valid_utf8(out)) {
        error("bad_utf8", "label value is not UTF-8");
        return false;
      }
      return true;
    }
    if (c != '\\') {
      out += c;
      continue;
    }
    const char next = pos_ + 1 < line_.size() ? line_[pos_ + 1] : '\0';
    if (next != '\\' && next != '"' && next != 'n') {
      error("bad_escape", "label values escape only \\\\, \\\" and \\n");
      return false;
    }
    out += next == 'n' ? '\n' : next;
    ++pos_;
  }
  error("bad_label_value", "label value has no closing quote");
  return false;
}

bool Parser::parse_labels(LabelMap& labels) {
  ++pos_;  // '{'
  for (;;) {
    skip_blanks();
    if (!at_end() && line_[pos_] == '}') break;
    const std::size_t start = pos_;
    while (pos_ < line_.size() && name_char(line_[pos_], false)) ++pos_;
    const std::string name(line_.substr(start, pos_ - start));
    if (name.empty() || !name_start(name[0], false)) {
      error("bad_label_name", "invalid label name at column " + std::to_string(start + 1));
      return false;
    }
    if (name.starts_with("__")) {
      error("reserved_label", "label names starting with __ are reserved: " + name);
      return false;
    }
    skip_blanks();
    if (at_end() || line_[pos_] != '=') {
      error("bad_syntax", "expected = after label " + name);
      return false;
    }
    ++pos_;
    skip_blanks();
    std::string value;
    if (!parse_label_value(value)) return false;
    if (!labels.emplace(name, std::move(value)).second) {
      error("duplicate_label", "label " + name + " given twice");
      return false;
    }
    skip_blanks();
    if (!at_end() && line_[pos_] == ',') {
      ++pos_;
      continue;
    }
    if (at_end() || line_[pos_] != '}') {
      error("bad_syntax", "expected , or } after label " + name);
      return false;
    }
    break;
  }
  ++pos_;  // '}'
  return true;
}

void Parser::parse_sample() {
  PromSample s;
  s.line = line_no_;
  const std::size_t start = pos_;
  while (pos_ < line_.size() && name_char(line_[pos_], true)) ++pos_;
  s.name = std::string(line_.substr(start, pos_ - start));
  if (s.name.empty() || !name_start(s.name[0], true) ||
      (!at_end() && !is_blank(line_[pos_]) && line_[pos_] != '{')) {
    error("bad_metric_name", "invalid metric name at the start of the line");
    return;
  }
  skip_blanks();
  if (!at_end() && line_[pos_] == '{' && !parse_labels(s.labels)) return;
  skip_blanks();
  const std::string_view value = token();
  if (value.empty() || !parse_go_float(value, s.value)) {
    error("bad_value", "invalid sample value \"" + std::string(value) + "\"");
    return;
  }
  skip_blanks();
  if (!at_end()) {
    std::int64_t ts = 0;
    const std::string_view t = token();
    if (!parse_int64(t, ts)) {
      error("bad_timestamp", "invalid timestamp \"" + std::string(t) + "\"");
      return;
    }
    s.timestamp_ms = ts;
    skip_blanks();
    if (!at_end()) {
      error("bad_syntax", "text after the timestamp");
      return;
    }
  }
  if (!series_.insert(series_key(s.name, s.labels)).second) {
    error("duplicate_series", "series " + s.name + " given twice");
  }
  PromFamily& f = result_.families[resolve(s.name)];
  check_sample(f, s);
  f.samples.push_back(std::move(s));
}

// What can be told from one sample; whole-series checks wait for the end (check_family).
void Parser::check_sample(PromFamily& f, const PromSample& s) {
  const bool is_family = s.name == f.name;
  if (f.type == "counter" && !(s.value >= 0)) {
    error("negative_counter", "counter " + s.name + " is negative or NaN");
  } else if (f.type == "histogram") {
    const bool bucket = s.name == f.name + "_bucket";
    if (is_family) error("unexpected_sample", "histogram " + f.name + " has a sample without suffix");
    if (bucket && !s.labels.count("le")) error("missing_le", s.name + " has no le label");
    if (!bucket && s.labels.count("le")) error("reserved_label", s.name + " has an le label");
    double le = 0;
    if (bucket && s.labels.count("le") && !parse_go_float(s.labels.at("le"), le)) {
      error("bad_le", "le=\"" + s.labels.at("le") + "\" is not a number");
    }
  } else if (f.type == "summary") {
    double q = 0;
    const auto it = s.labels.find("quantile");
    if (is_family && (it == s.labels.end() || !parse_go_float(it->second, q) || q < 0 || q > 1)) {
      error("bad_quantile", s.name + " needs a quantile label between 0 and 1");
    }
    if (!is_family && it != s.labels.end()) error("reserved_label", s.name + " has a quantile label");
  }
}

void Parser::check_family(const PromFamily& f) {
  if (f.type != "histogram" && f.type != "summary") return;
  // Series by label set without le/quantile, in order of first appearance.
  const std::string skip = f.type == "histogram" ? "le" : "quantile";
  std::vector<std::string> order;
  std::map<std::string, std::vector<const PromSample*>> by_series;
  for (const auto& s : f.samples) {
    const std::string key = series_key("", s.labels, skip);
    auto& list = by_series[key];
    if (list.empty()) order.push_back(key);
    list.push_back(&s);
  }
  for (const auto& key : order) check_series(f, by_series[key]);
}

void Parser::check_series(const PromFamily& f, const std::vector<const PromSample*>& series) {
  const PromSample* sum = nullptr;
  const PromSample* count = nullptr;
  const PromSample* last_bucket = nullptr;
  double last_le = -std::numeric_limits<double>::infinity();
  bool have_inf = false;
  for (const PromSample* s : series) {
    line_no_ = s->line;
    if (s->name == f.name + "_sum") sum = s;
    if (s->name == f.name + "_count") count = s;
    if (s->name == f.name + "_count" && !(s->value >= 0)) {
      error("negative_count", s->name + " is negative or NaN");
    }
    if (s->name != f.name + "_bucket" || f.type != "histogram") continue;
    double le = 0;
    if (!s->labels.count("le") || !parse_go_float(s->labels.at("le"), le)) continue;  // reported
    if (!(s->value >= 0)) error("negative_count", "bucket le=" + s->labels.at("le") + " is negative or NaN");
    if (last_bucket && !(le > last_le)) {
      error("bucket_order", "bucket le=" + s->labels.at("le") + " does not follow a smaller le");
    }
    if (last_bucket && s->value < last_bucket->value) {
      error("bucket_decreasing", "bucket le=" + s->labels.at("le") + " counts less than the one before");
    }
    have_inf = have_inf || (std::isinf(le) && le > 0);
    last_le = le;
    last_bucket = s;
  }
  line_no_ = series.back()->line;
  const std::string what = f.name + " series ending on this line";
  if (f.type == "histogram" && !have_inf) error("missing_inf_bucket", what + " has no le=\"+Inf\" bucket");
  if (!sum) error("missing_sum", what + " has no _sum");
  if (!count) {
    error("missing_count", what + " has no _count");
  } else if (f.type == "histogram" && have_inf && last_bucket && count->value != last_bucket->value) {
    line_no_ = count->line;
    error("count_mismatch", f.name + "_count differs from its +Inf bucket");
  }
}

bool contains(const LabelMap& labels, const LabelMap& subset) {
  for (const auto& [k, v] : subset) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

bool ParseResult::has_error(std::string_view code) const {
  for (const auto& e : errors) {
    if (e.code == code) return true;
  }
  return false;
}

std::string ParseResult::error_text() const {
  std::string out;
  for (const auto& e : errors) {
    out += "line " + std::to_string(e.line) + ": " + e.code + ": " + e.message + "\n";
  }
  return out;
}

const PromFamily* ParseResult::family(std::string_view name) const {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<double> ParseResult::value(std::string_view sample_name, const LabelMap& labels) const {
  std::optional<double> found;
  for (const auto& f : families) {
    for (const auto& s : f.samples) {
      if (s.name != sample_name || !contains(s.labels, labels)) continue;
      if (found) return std::nullopt;  // ambiguous
      found = s.value;
    }
  }
  return found;
}

double ParseResult::sum(std::string_view sample_name, const LabelMap& labels) const {
  double total = 0;
  for (const auto& f : families) {
    for (const auto& s : f.samples) {
      if (s.name == sample_name && contains(s.labels, labels)) total += s.value;
    }
  }
  return total;
}

ParseResult parse_prometheus_text(std::string_view text) {
  return Parser().run(text);
}

}  // namespace weir::testing
