#include "log/redact.hpp"

#include <algorithm>

namespace weir::log {

namespace {

// Appends `userinfo` masked: "user:***", or "***" for a token.
void mask(std::string_view userinfo, std::string& out) {
  const auto colon = userinfo.find(':');
  if (colon != std::string_view::npos) out.append(userinfo.substr(0, colon + 1));
  out.append("***");
}

void redact_one(std::string_view url, std::string& out) {
  const auto scheme = url.find("://");
  const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const auto end = std::min(url.find_first_of("/?#", start), url.size());
  const auto at = url.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) {
    out.append(url);
    return;
  }
  out.append(url.substr(0, start));
  mask(url.substr(start, at), out);
  out.append(url.substr(start + at));
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out;
  out.reserve(url.size());
  for (;;) {
    const auto comma = url.find(',');
    redact_one(url.substr(0, comma), out);
    if (comma == std::string_view::npos) return out;
    out.push_back(',');
    url.remove_prefix(comma + 1);
  }
}

bool redact_urls(std::string_view text, std::string& out) {
  bool masked = false;
  std::size_t copied = 0;  // text before this is in `out` already (once masked)
  for (auto pos = text.find("://"); pos != std::string_view::npos; pos = text.find("://", pos + 3)) {
    const auto start = pos + 3;
    // The authority ends where a path, a query or the surrounding text begins.
    const auto end = std::min(text.find_first_of("/?# \t\r\n\"'<>", start), text.size());
    const auto at = text.substr(start, end - start).rfind('@');
    if (at == std::string_view::npos) continue;
    if (!masked) {
      out.clear();
      masked = true;
    }
    out.append(text.substr(copied, start - copied));
    mask(text.substr(start, at), out);
    copied = start + at;
  }
  if (masked) out.append(text.substr(copied));
  return masked;
}

}  // namespace weir::log
