#include "sdk/base/units.hpp"

#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>

#include "sdk/base/quote.hpp"

namespace weir::sdk {
namespace {

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A decimal number "123" or "1.25": the integer part, and the fraction as digits/10^frac_len.
// Fraction digits past 19 cannot matter at nanosecond or byte precision for the values either
// parser accepts, so they are dropped (the integer part still gets full overflow checks).
struct Decimal {
  std::uint64_t integer = 0;
  std::uint64_t fraction = 0;
  int fraction_len = 0;
  bool overflow = false;
};

// Reads a number at text[pos]; returns false when there is no digit at all.
bool read_decimal(std::string_view text, std::size_t& pos, Decimal& out) {
  const std::size_t start = pos;
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  while (pos < text.size() && is_digit(text[pos])) {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    if (out.integer > (max - digit) / 10)
      out.overflow = true;
    else
      out.integer = out.integer * 10 + digit;
    ++pos;
  }
  bool any_digit = pos > start;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && is_digit(text[pos])) {
      if (out.fraction_len < 19) {
        out.fraction = out.fraction * 10 + static_cast<std::uint64_t>(text[pos] - '0');
        ++out.fraction_len;
      }
      any_digit = true;
      ++pos;
    }
  }
  return any_digit;
}

std::uint64_t pow10(int n) {
  std::uint64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// Units as (nanoseconds, power of ten dividing it): the split keeps fraction scaling exact.
struct DurationUnit {
  std::string_view name;
  std::uint64_t ns;
  int exact_pow10;  // ns == q * 10^exact_pow10 with small q
};
constexpr std::array<DurationUnit, 7> duration_units{{
    {"ns", 1, 0},
    {"us", 1'000, 3},
    {"\xC2\xB5s", 1'000, 3},  // U+00B5 micro sign, as Go accepts
    {"\xCE\xBCs", 1'000, 3},  // U+03BC greek mu
    {"ms", 1'000'000, 6},
    {"s", 1'000'000'000, 9},
    {"m", 60'000'000'000, 10},
}};
constexpr DurationUnit hour_unit{"h", 3'600'000'000'000, 11};

const DurationUnit* find_duration_unit(std::string_view name) {
  if (name == "h") return &hour_unit;
  for (const auto& u : duration_units)
    if (u.name == name) return &u;
  return nullptr;
}

// Nanoseconds contributed by fraction/10^len of `unit`, truncated like Go.
std::uint64_t fraction_ns(const Decimal& d, const DurationUnit& unit) {
  if (d.fraction_len == 0 || d.fraction == 0) return 0;
  if (d.fraction_len <= unit.exact_pow10) return d.fraction * (unit.ns / pow10(d.fraction_len));
  // q is at most 36 and fraction < 10^19 would overflow, so shed digits first: digits past the
  // 17th are worth < 1e-17 of an hour, far below a nanosecond.
  std::uint64_t f = d.fraction;
  int len = d.fraction_len;
  while (len > 17) {
    f /= 10;
    --len;
  }
  const std::uint64_t q = unit.ns / pow10(unit.exact_pow10);
  if (len <= unit.exact_pow10) return f * (unit.ns / pow10(len));
  return f * q / pow10(len - unit.exact_pow10);
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text, std::string* error) {
  const std::string quoted = quote(text);
  if (text.empty()) {
    fail(error, "empty duration; expected e.g. \"30s\", \"500ms\" or \"1h30m\"");
    return std::nullopt;
  }
  if (text == "0") return std::chrono::nanoseconds{0};
  if (text[0] == '-') {
    fail(error, "duration " + quoted + " must not be negative");
    return std::nullopt;
  }
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    Decimal num;
    if (!read_decimal(text, pos, num)) {
      fail(error, "invalid duration " + quoted + ": expected a number at character " +
                      std::to_string(pos + 1) + "; use e.g. \"30s\", \"500ms\" or \"1h30m\"");
      return std::nullopt;
    }
    const std::size_t unit_start = pos;
    while (pos < text.size() && !is_digit(text[pos]) && text[pos] != '.') ++pos;
    const std::string_view unit_name = text.substr(unit_start, pos - unit_start);
    if (unit_name.empty()) {
      fail(error, "invalid duration " + quoted + ": missing unit (ns, us, ms, s, m or h)");
      return std::nullopt;
    }
    const DurationUnit* unit = find_duration_unit(unit_name);
    if (!unit) {
      fail(error, "invalid duration " + quoted + ": unknown unit " + quote(unit_name) +
                      " (use ns, us, ms, s, m or h)");
      return std::nullopt;
    }
    if (num.overflow || num.integer > max / unit->ns) {
      fail(error, "duration " + quoted + " is too large");
      return std::nullopt;
    }
    const std::uint64_t term = num.integer * unit->ns + fraction_ns(num, *unit);
    if (term > max || total > max - term) {
      fail(error, "duration " + quoted + " is too large");
      return std::nullopt;
    }
    total += term;
  }
  return std::chrono::nanoseconds{static_cast<std::int64_t>(total)};
}

namespace {

// "<whole>[.<frac without trailing zeros>]<unit>" for value/scale.
void append_decimal(std::string& out, std::uint64_t value, std::uint64_t scale, int digits,
                    std::string_view unit) {
  out += std::to_string(value / scale);
  std::uint64_t frac = value % scale;
  if (frac != 0) {
    while (frac % 10 == 0) {
      frac /= 10;
      --digits;
    }
    std::string f = std::to_string(frac);
    out += '.';
    out.append(static_cast<std::size_t>(digits) - f.size(), '0');
    out += f;
  }
  out += unit;
}

}  // namespace

std::string format_duration(std::chrono::nanoseconds d) {
  std::string out;
  std::int64_t count = d.count();
  if (count == 0) return "0s";
  std::uint64_t v;
  if (count < 0) {
    out += '-';
    v = static_cast<std::uint64_t>(-(count + 1)) + 1;  // no overflow for INT64_MIN
  } else {
    v = static_cast<std::uint64_t>(count);
  }
  const std::uint64_t hours = v / hour_unit.ns;
  v %= hour_unit.ns;
  const std::uint64_t minutes = v / 60'000'000'000;
  v %= 60'000'000'000;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (v >= 1'000'000'000)
    append_decimal(out, v, 1'000'000'000, 9, "s");
  else if (v >= 1'000'000)
    append_decimal(out, v, 1'000'000, 6, "ms");
  else if (v >= 1'000)
    append_decimal(out, v, 1'000, 3, "us");
  else if (v > 0)
    append_decimal(out, v, 1, 0, "ns");
  return out;
}

namespace {

struct SizeUnit {
  std::string_view name;  // lower case
  std::uint64_t bytes;
};
constexpr std::uint64_t kib = 1024;
constexpr std::array<SizeUnit, 11> size_units{{
    {"b", 1},
    {"kb", 1'000},
    {"mb", 1'000'000},
    {"gb", 1'000'000'000},
    {"tb", 1'000'000'000'000},
    {"pb", 1'000'000'000'000'000},
    {"kib", kib},
    {"mib", kib* kib},
    {"gib", kib* kib* kib},
    {"tib", kib* kib* kib* kib},
    {"pib", kib* kib* kib* kib* kib},
}};

std::uint64_t gcd(std::uint64_t a, std::uint64_t b) {
  while (b) {
    const std::uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

}  // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text, std::string* error) {
  const std::string quoted = quote(text);
  if (text.empty()) {
    fail(error, "empty byte size; expected e.g. \"64MiB\", \"1GB\" or \"512KiB\"");
    return std::nullopt;
  }
  if (text[0] == '-') {
    fail(error, "byte size " + quoted + " must not be negative");
    return std::nullopt;
  }
  std::size_t pos = 0;
  Decimal num;
  if (!read_decimal(text, pos, num)) {
    fail(error, "invalid byte size " + quoted + ": expected a number, e.g. \"64MiB\" or \"1GB\"");
    return std::nullopt;
  }
  std::string unit;
  for (std::size_t i = pos; i < text.size(); ++i)
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  std::uint64_t mult = 0;
  if (unit.empty()) mult = 1;
  for (const auto& u : size_units)
    if (u.name == unit) mult = u.bytes;
  if (mult == 0) {
    std::string message = "invalid byte size " + quoted + ": unknown unit " + quote(text.substr(pos)) +
                          " (use B, KB, MB, GB, TB, PB or " + "KiB, MiB, GiB, TiB, PiB)";
    if (unit == "k" || unit == "m" || unit == "g" || unit == "t" || unit == "p") {
      const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0])));
      message += std::string("; for ") + up + " write " + up + "iB (1024-based) or " + up + "B (1000-based)";
    }
    fail(error, std::move(message));
    return std::nullopt;
  }
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  if (num.overflow || num.integer > max / mult) {
    fail(error, "byte size " + quoted + " is too large");
    return std::nullopt;
  }
  std::uint64_t bytes = num.integer * mult;
  if (num.fraction != 0) {
    // fraction/10^len reduced to p/q; whole bytes exactly when q divides the unit.
    const std::uint64_t den = pow10(num.fraction_len);
    const std::uint64_t g = gcd(num.fraction, den);
    const std::uint64_t p = num.fraction / g;
    const std::uint64_t q = den / g;
    if (mult % q != 0) {
      fail(error, "byte size " + quoted + " is not a whole number of bytes");
      return std::nullopt;
    }
    const std::uint64_t extra = p * (mult / q);
    if (bytes > max - extra) {
      fail(error, "byte size " + quoted + " is too large");
      return std::nullopt;
    }
    bytes += extra;
  }
  return bytes;
}

std::string format_byte_size(std::uint64_t bytes) {
  if (bytes == 0) return "0B";
  static constexpr std::array<std::string_view, 6> binary{"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  static constexpr std::array<std::string_view, 6> decimal{"B", "KB", "MB", "GB", "TB", "PB"};
  auto best = [bytes](std::uint64_t base, const std::array<std::string_view, 6>& names) {
    std::uint64_t v = bytes;
    std::size_t i = 0;
    while (i + 1 < names.size() && v % base == 0) {
      v /= base;
      ++i;
    }
    return std::to_string(v) + std::string(names[i]);
  };
  std::string a = best(1024, binary);
  std::string b = best(1000, decimal);
  return b.size() < a.size() ? b : a;
}

namespace {

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  using namespace std::chrono;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  std::int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    std::size_t n = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n)
      if (n < 3) frac = frac * 10 + (s[i] - '0');
    if (n == 0) return std::nullopt;
    for (; n < 3; ++n) frac *= 10;
  }
  std::int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om) ||
        oh > 23 || om > 59)
      return std::nullopt;
    offset = (s[i] == '+' ? 1 : -1) * (oh * 60 + om) * 60'000LL;
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t days_ms = sys_days{ymd}.time_since_epoch().count() * 86'400'000LL;
  return days_ms + ((h * 60 + mi) * 60 + se) * 1000LL + frac - offset;
}

}  // namespace weir::sdk
