#include "http/parse.hpp"

#include <cstdint>

namespace weir::http::detail {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Length of the valid UTF-8 sequence at the start of `s`, 0 when it is not one.
std::size_t utf8_length(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  // Overlong forms, surrogates, beyond U+10FFFF.
  static constexpr std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_length[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

}  // namespace

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parse_target(std::string_view target, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query, std::string& reason) {
  path.clear();
  query.clear();
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const auto authority = target.find("://") + 3;
    const auto slash = target.find_first_of("/?", authority);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  if (target == "*") {
    path = "*";
    return true;
  }
  if (target.empty() || (target.front() != '/' && target.front() != '?')) {
    reason = "request target must start with '/'";
    return false;
  }
  const auto q = target.find('?');
  if (!percent_decode(target.substr(0, q), false, path)) {
    reason = "malformed percent-encoding in the path";
    return false;
  }
  if (path.empty()) path = "/";
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  const auto hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    std::string key, value;
    if (!percent_decode(item.substr(0, eq), true, key) ||
        (eq != std::string_view::npos && !percent_decode(item.substr(eq + 1), true, value))) {
      reason = "malformed percent-encoding in the query";
      return false;
    }
    query.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

bool split_host_port(std::string_view host_port, std::string& host, std::string& port) {
  std::string_view h, p;
  if (host_port.starts_with('[')) {
    const auto close = host_port.find(']');
    if (close == std::string_view::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':')
      return false;
    h = host_port.substr(1, close - 1);
    p = host_port.substr(close + 2);
  } else {
    const auto colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = host_port.substr(0, colon);
    if (h.find(':') != std::string_view::npos) return false;  // an IPv6 address needs brackets
    p = host_port.substr(colon + 1);
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos) return false;
  if (std::stoul(std::string(p)) > 65535) return false;
  host.assign(h);
  port.assign(p);
  return true;
}

bool client_address(std::string_view in, std::string& host, std::string& port, std::string& authority,
                    std::string& reason) {
  if (in.starts_with("https://") || in.starts_with("wss://")) {
    reason = std::string(in) + ": TLS is not supported, use http://";
    return false;
  }
  std::string_view a = in;
  for (const std::string_view scheme : {"http://", "ws://"}) {
    if (a.starts_with(scheme)) a.remove_prefix(scheme.size());
  }
  a = a.substr(0, a.find('/'));
  if (split_host_port(a, host, port)) {
    authority.assign(a);
  } else if (!a.empty() && a.find(':') == std::string_view::npos) {
    host.assign(a);
    port = "80";
    authority.assign(a);
  } else if (a.size() > 2 && a.front() == '[' && a.back() == ']') {
    host.assign(a.substr(1, a.size() - 2));
    port = "80";
    authority.assign(a);
  } else {
    reason = std::string(in) + ": not host:port";
    return false;
  }
  if (host.empty()) {
    reason = std::string(in) + ": no host";
    return false;
  }
  return true;
}

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string json_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  while (!s.empty()) {
    const auto c = static_cast<unsigned char>(s.front());
    const std::size_t n = utf8_length(s);
    if (n == 0) {
      out += "\\ufffd";
      s.remove_prefix(1);
      continue;
    }
    if (n > 1) {
      out.append(s.substr(0, n));
    } else if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
    s.remove_prefix(n);
  }
  out.push_back('"');
  return out;
}

}  // namespace weir::http::detail
