#include "common/syslog/parse.hpp"

#include <array>
#include <boost/json/value.hpp>
#include <cstdint>

#include "sdk/base/record_json.hpp"  // sdk::valid_utf8

namespace weir::components::syslog {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_print(char c) {
  return c >= 33 && c <= 126;
}  // PRINTUSASCII

// The number of `n` digits at `s[at]`, or -1.
int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(s[at + i])) return -1;
    v = v * 10 + (s[at + i] - '0');
  }
  return v;
}

// An RFC 3339 timestamp as RFC 5424 section 6.2.3 allows it: YYYY-MM-DDTHH:MM:SS[.1-6 digits]
// then Z or +hh:mm / -hh:mm. `max_frac`: 6 for 5424; a 3164 sender's may carry more.
bool rfc3339(std::string_view t, std::size_t max_frac) {
  const int y = digits(t, 0, 4), mo = digits(t, 5, 2), d = digits(t, 8, 2), h = digits(t, 11, 2),
            mi = digits(t, 14, 2), s = digits(t, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
      s > 59)
    return false;
  if (t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') return false;
  std::size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    const auto start = ++i;
    while (i < t.size() && is_digit(t[i])) ++i;
    if (i == start || i - start > max_frac) return false;
  }
  if (i < t.size() && t[i] == 'Z') return i + 1 == t.size();
  if (i >= t.size() || (t[i] != '+' && t[i] != '-')) return false;
  const int oh = digits(t, i + 1, 2), om = digits(t, i + 4, 2);
  return oh >= 0 && oh <= 23 && om >= 0 && om <= 59 && t[i + 3] == ':' && i + 6 == t.size();
}

// "Mmm dd hh:mm:ss" (RFC 3164 4.1.2: the day space-padded; a zero-padded one is taken too).
bool bsd_timestamp(std::string_view t) {
  static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (t.size() != 15 || t[3] != ' ' || t[6] != ' ' || t[9] != ':' || t[12] != ':') return false;
  bool month = false;
  for (auto m : months) month = month || t.substr(0, 3) == m;
  const int day = (t[4] == ' ' ? 0 : digits(t, 4, 1)) * 10 + digits(t, 5, 1);
  const int h = digits(t, 7, 2), mi = digits(t, 10, 2), s = digits(t, 13, 2);
  return month && (t[4] == ' ' || is_digit(t[4])) && digits(t, 5, 1) >= 0 && day >= 1 && day <= 31 &&
         h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

bool pri(std::string_view line, std::size_t& at, boost::json::object& out, std::string& reason) {
  if (line.empty() || line[0] != '<') {
    reason = "no PRI: a syslog message starts with <facility*8+severity>";
    return false;
  }
  std::size_t i = 1;
  int v = 0;
  while (i < line.size() && is_digit(line[i]) && i <= 3) v = v * 10 + (line[i++] - '0');
  if (i == 1 || i >= line.size() || line[i] != '>') {
    reason = "bad PRI: 1 to 3 digits between < and > expected";
    return false;
  }
  if (v > 191) {
    reason = "bad PRI: " + std::to_string(v) + " is over 191 (facility 23, severity 7)";
    return false;
  }
  out["facility"] = v / 8;
  out["severity"] = v % 8;
  at = i + 1;
  return true;
}

// The text after the header fields; false when it is not UTF-8. A UTF-8 BOM (RFC 5424 6.4) is
// dropped.
bool message(std::string_view msg, boost::json::object& out, std::string& reason) {
  if (msg.starts_with("\xEF\xBB\xBF")) msg.remove_prefix(3);
  if (!sdk::valid_utf8(msg)) {
    reason = "the message is not UTF-8 text";
    return false;
  }
  out["message"] = msg;
  return true;
}

// One space-free header field of RFC 5424 at `at` (then a SP); "-" is null.
bool header_field(std::string_view line, std::size_t& at, std::string_view name, std::size_t max,
                  boost::json::value& out, std::string& reason) {
  const auto end = line.find(' ', at);
  if (end == std::string_view::npos) {
    reason = "RFC 5424 header cut short at " + std::string(name);
    return false;
  }
  const auto v = line.substr(at, end - at);
  if (v.empty()) {
    reason = "empty " + std::string(name) + " (two spaces in the RFC 5424 header)";
    return false;
  }
  if (v.size() > max) {
    reason = std::string(name) + " of " + std::to_string(v.size()) + " characters, more than " +
             std::to_string(max);
    return false;
  }
  for (char c : v)
    if (!is_print(c)) {
      reason = std::string(name) + " holds a character outside printable US-ASCII";
      return false;
    }
  out = v == "-" ? boost::json::value(nullptr) : boost::json::value(v);
  at = end + 1;
  return true;
}

// An SD-NAME (SD-ID or PARAM-NAME): 1 to 32 printable characters but = SP ] ".
bool sd_name(std::string_view line, std::size_t& at, std::string_view what, std::string& name,
             std::string& reason) {
  const auto start = at;
  while (at < line.size() && is_print(line[at]) && line[at] != '=' && line[at] != ']' && line[at] != '"')
    ++at;
  name.assign(line.substr(start, at - start));
  if (name.empty() || name.size() > 32) {
    reason = "structured data: " + std::string(what) + " of " + std::to_string(name.size()) +
             " characters at column " + std::to_string(start + 1) + " (1 to 32 expected)";
    return false;
  }
  return true;
}

bool structured_data(std::string_view line, std::size_t& at, boost::json::value& out, std::string& reason) {
  if (at < line.size() && line[at] == '-') {
    out = nullptr;
    ++at;
    return true;
  }
  if (at >= line.size() || line[at] != '[') {
    reason = "structured data expected at column " + std::to_string(at + 1) + ": - or [";
    return false;
  }
  auto& sd = out.emplace_object();
  while (at < line.size() && line[at] == '[') {
    ++at;
    std::string id;
    if (!sd_name(line, at, "SD-ID", id, reason)) return false;
    if (sd.contains(id)) {
      reason = "structured data: element " + id + " given twice";
      return false;
    }
    auto& params = sd[id].emplace_object();
    while (at < line.size() && line[at] == ' ') {
      ++at;
      std::string name;
      if (!sd_name(line, at, "PARAM-NAME", name, reason)) return false;
      std::string param = id;  // "<SD-ID>/<PARAM-NAME>", for the reasons
      param += '/';
      param += name;
      if (at + 1 >= line.size() || line[at] != '=' || line[at + 1] != '"') {
        reason = "structured data: =\" expected after ";
        reason += param;
        return false;
      }
      at += 2;
      std::string value;
      bool closed = false;
      while (at < line.size()) {
        const char c = line[at++];
        if (c == '"') {
          closed = true;
          break;
        }
        // RFC 5424 6.3.3: \" \\ \] are escapes; a backslash before anything else is kept.
        if (c == '\\' && at < line.size() && (line[at] == '"' || line[at] == '\\' || line[at] == ']'))
          value += line[at++];
        else
          value += c;
      }
      if (!closed) {
        reason = "structured data: the value of ";
        reason += param;
        reason += " is not closed by \"";
        return false;
      }
      if (!sdk::valid_utf8(value)) {
        reason = "structured data: the value of ";
        reason += param;
        reason += " is not UTF-8";
        return false;
      }
      if (auto* prev = params.if_contains(name)) {
        if (!prev->is_array()) *prev = boost::json::array{std::move(*prev)};
        prev->get_array().emplace_back(value);
      } else {
        params[name] = value;
      }
    }
    if (at >= line.size() || line[at] != ']') {
      reason = "structured data: element " + id + " is not closed by ]";
      return false;
    }
    ++at;
  }
  return true;
}

bool rfc5424(std::string_view line, std::size_t at, boost::json::object& out, std::string& reason) {
  out["protocol"] = "rfc5424";
  const auto sp = line.find(' ', at);
  if (sp == std::string_view::npos || sp - at > 3 || line.substr(at, sp - at) != "1") {
    reason = "unsupported syslog version " +
             std::string(line.substr(at, sp == std::string_view::npos ? 3 : sp - at)) +
             " (RFC 5424 is version 1)";
    return false;
  }
  out["version"] = 1;
  at = sp + 1;
  boost::json::value ts, host, app, proc, msgid, sd;
  if (!header_field(line, at, "TIMESTAMP", 64, ts, reason)) return false;
  if (ts.is_string() && !rfc3339(ts.get_string(), 6)) {
    reason = "bad TIMESTAMP \"" + std::string(ts.get_string()) +
             "\": RFC 3339 expected (2003-10-11T22:14:15.003Z, at most 6 fraction digits)";
    return false;
  }
  if (!header_field(line, at, "HOSTNAME", 255, host, reason) ||
      !header_field(line, at, "APP-NAME", 48, app, reason) ||
      !header_field(line, at, "PROCID", 128, proc, reason))
    return false;
  // MSGID is followed by SP and the structured data: find() above needs that SP.
  if (!header_field(line, at, "MSGID", 32, msgid, reason)) return false;
  if (!structured_data(line, at, sd, reason)) return false;
  out["timestamp"] = std::move(ts);
  out["hostname"] = std::move(host);
  out["app_name"] = std::move(app);
  out["procid"] = std::move(proc);
  out["msgid"] = std::move(msgid);
  out["structured_data"] = std::move(sd);
  if (at == line.size()) {
    out["message"] = nullptr;
    return true;
  }
  if (line[at] != ' ') {
    reason = "a space expected after the structured data at column " + std::to_string(at + 1);
    return false;
  }
  return message(line.substr(at + 1), out, reason);
}

bool rfc3164(std::string_view line, std::size_t at, boost::json::object& out, std::string& reason) {
  out["protocol"] = "rfc3164";
  out["version"] = nullptr;
  out["msgid"] = nullptr;
  out["structured_data"] = nullptr;
  out["timestamp"] = nullptr;
  out["hostname"] = nullptr;
  out["app_name"] = nullptr;
  out["procid"] = nullptr;
  auto rest = line.substr(at);
  // A space after the PRI before the timestamp (seen in the wild, and in syslog-ng's own guide).
  if (rest.size() > 16 && rest[0] == ' ' && bsd_timestamp(rest.substr(1, 15))) rest.remove_prefix(1);
  bool stamped = false;
  if (rest.size() >= 15 && bsd_timestamp(rest.substr(0, 15)) && (rest.size() == 15 || rest[15] == ' ')) {
    out["timestamp"] = rest.substr(0, 15);
    rest.remove_prefix(std::min<std::size_t>(16, rest.size()));
    stamped = true;
  } else if (const auto sp = rest.find(' ');
             rest.size() >= 20 && is_digit(rest[0]) && rfc3339(rest.substr(0, sp), 9)) {
    // The RFC 3339 stamp of rsyslog's forwarding format and of syslog-ng.
    out["timestamp"] = rest.substr(0, sp);
    rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    stamped = true;
  }
  // The hostname follows a timestamp, unless the next word is the tag already ("su:", "cron[12]:").
  if (stamped) {
    const auto sp = rest.find(' ');
    const auto word = rest.substr(0, sp);
    const bool tag = word.ends_with(':') || word.find('[') != std::string_view::npos;
    bool printable = !word.empty() && word.size() <= 255;
    for (char c : word) printable = printable && is_print(c);
    if (!tag && printable && sp != std::string_view::npos) {
      out["hostname"] = word;
      rest.remove_prefix(sp + 1);
    }
  }
  // TAG (RFC 3164 4.1.3: up to 32 alphanumerics; in practice also - _ . / and up to 48), then
  // an optional [PID], then ':'.
  std::size_t i = 0;
  while (i < rest.size() && i <= 48 && is_print(rest[i]) && rest[i] != ':' && rest[i] != '[') ++i;
  if (i > 0 && i <= 48 && i < rest.size()) {
    std::size_t j = i;
    std::string_view pid;
    if (rest[j] == '[') {
      const auto close = rest.find(']', j);
      if (close != std::string_view::npos && close > j + 1 && close - j - 1 <= 128) {
        pid = rest.substr(j + 1, close - j - 1);
        j = close + 1;
      }
    }
    bool pid_ok = true;
    for (char c : pid) pid_ok = pid_ok && is_print(c);
    if (j < rest.size() && rest[j] == ':' && pid_ok && (rest[i] != '[' || !pid.empty())) {
      out["app_name"] = rest.substr(0, i);
      if (!pid.empty()) out["procid"] = pid;
      rest.remove_prefix(j + 1);
      if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    }
  }
  return message(rest, out, reason);
}

}  // namespace

bool parse(std::string_view line, boost::json::object& out, std::string& reason) {
  out.clear();
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == '\0'))
    line.remove_suffix(1);
  if (line.empty()) {
    reason = "an empty message";
    return false;
  }
  std::size_t at = 0;
  if (!pri(line, at, out, reason)) return false;
  // RFC 5424 when VERSION (a digit) and SP follow the PRI; a BSD timestamp starts with a letter and
  // an RFC 3339 one with four digits.
  if (at + 1 < line.size() && is_digit(line[at]) && line[at + 1] == ' ')
    return rfc5424(line, at, out, reason);
  return rfc3164(line, at, out, reason);
}

}  // namespace weir::components::syslog
