#include "sdk/base/json_write.hpp"

#include <array>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace weir::sdk {
namespace {

// 0 = copy as is, otherwise the letter of a two-character escape, or 'u' for \u00XX.
constexpr auto escape_table = [] {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 'u';
  t['"'] = '"';
  t['\\'] = '\\';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  return t;
}();

// Writes through a small stack buffer: std::string::push_back is not inlined by GCC and
// dominated the profile when every brace and comma went through it.
class Sink {
 public:
  explicit Sink(std::string& out) : out_(out) {}
  ~Sink() { flush(); }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  void put(char c) {
    if (p_ == end_) flush();
    *p_++ = c;
  }
  void write(const char* s, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) {
      flush();
      if (n > sizeof buf_) {
        out_.append(s, n);
        return;
      }
    }
    std::memcpy(p_, s, n);
    p_ += n;
  }
  // Room for `n` bytes at ptr(), to be committed with advance(); n must be <= 64.
  char* reserve(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) flush();
    return p_;
  }
  void advance(char* to) { p_ = to; }

 private:
  void flush() {
    out_.append(buf_, static_cast<std::size_t>(p_ - buf_));
    p_ = buf_;
  }
  std::string& out_;
  char buf_[512];
  char* p_ = buf_;
  char* const end_ = buf_ + sizeof buf_;
};

void put_string(Sink& sink, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  sink.put('"');
  const char* run = s.data();
  const char* const end = s.data() + s.size();
  for (const char* p = run; p != end; ++p) {
    const char e = escape_table[static_cast<unsigned char>(*p)];
    if (e == 0) continue;
    sink.write(run, static_cast<std::size_t>(p - run));
    if (e == 'u') {
      const auto c = static_cast<unsigned char>(*p);
      const char seq[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      sink.write(seq, 6);
    } else {
      const char seq[2] = {'\\', e};
      sink.write(seq, 2);
    }
    run = p + 1;
  }
  sink.write(run, static_cast<std::size_t>(end - run));
  sink.put('"');
}

template <typename T>
void put_integer(Sink& sink, T v) {
  char* p = sink.reserve(24);
  sink.advance(std::to_chars(p, p + 24, v).ptr);
}

// Sensor-style values (21.5, 0.125, 1013.25) as integer / 10^k: when m / 10^k == d with both
// m and 10^k exact doubles, IEEE division is correctly rounded, so the text "m with a point"
// reads back as d; the smallest such k gives the fewest digits, i.e. what std::to_chars
// prints, in a quarter of its time. Limited to [1e-3, 1e5), where to_chars never picks the
// exponent form, so both paths print the same text.
bool put_short_decimal(Sink& sink, double d) {
  static constexpr double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
  const double a = std::fabs(d);
  if (!(a >= 1e-3 && a < 1e5)) return false;
  for (int k = 0; k < 10; ++k) {
    const double m = std::nearbyint(a * pow10[k]);
    if (m / pow10[k] != a) continue;
    char digits[24];
    char* end = std::to_chars(digits, digits + sizeof digits, static_cast<std::uint64_t>(m)).ptr;
    auto n = static_cast<int>(end - digits);
    char* p = sink.reserve(40);
    if (d < 0) *p++ = '-';
    if (n <= k) {  // 0.0xyz
      *p++ = '0';
      *p++ = '.';
      for (int i = n; i < k; ++i) *p++ = '0';
      std::memcpy(p, digits, static_cast<std::size_t>(n));
      p += n;
    } else {
      std::memcpy(p, digits, static_cast<std::size_t>(n - k));
      p += n - k;
      *p++ = '.';
      if (k == 0) {
        *p++ = '0';  // keep integral doubles doubles: "3.0"
      } else {
        std::memcpy(p, digits + n - k, static_cast<std::size_t>(k));
        p += k;
      }
    }
    sink.advance(p);
    return true;
  }
  return false;
}

void put_double(Sink& sink, double d) {
  if (!std::isfinite(d)) {
    sink.write("null", 4);
    return;
  }
  if (put_short_decimal(sink, d)) return;
  char* const start = sink.reserve(40);
  char* const end = std::to_chars(start, start + 38, d).ptr;
  for (const char* p = start; p != end; ++p) {
    if (*p == '.' || *p == 'e') {
      sink.advance(end);
      return;
    }
  }
  end[0] = '.';
  end[1] = '0';
  sink.advance(end + 2);
}

void put_value(Sink& sink, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      sink.write("null", 4);
      return;
    case boost::json::kind::bool_:
      if (v.get_bool())
        sink.write("true", 4);
      else
        sink.write("false", 5);
      return;
    case boost::json::kind::int64:
      put_integer(sink, v.get_int64());
      return;
    case boost::json::kind::uint64:
      put_integer(sink, v.get_uint64());
      return;
    case boost::json::kind::double_:
      put_double(sink, v.get_double());
      return;
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      put_string(sink, std::string_view(s.data(), s.size()));
      return;
    }
    case boost::json::kind::array: {
      sink.put('[');
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) sink.put(',');
        first = false;
        put_value(sink, item);
      }
      sink.put(']');
      return;
    }
    case boost::json::kind::object: {
      sink.put('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) sink.put(',');
        first = false;
        put_string(sink, std::string_view(kv.key().data(), kv.key().size()));
        sink.put(':');
        put_value(sink, kv.value());
      }
      sink.put('}');
      return;
    }
  }
}

}  // namespace

void write_json_string(std::string& out, std::string_view s) {
  Sink sink(out);
  put_string(sink, s);
}

void write_json(std::string& out, const boost::json::value& v) {
  Sink sink(out);
  put_value(sink, v);
}

std::string to_json(const boost::json::value& v) {
  std::string out;
  write_json(out, v);
  return out;
}

}  // namespace weir::sdk
