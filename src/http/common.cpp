#include <cctype>

#include "http/parse.hpp"
#include "http/server.hpp"

namespace weir::http {

Response json_error(unsigned status, std::string_view reason) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = "{\"error\":" + detail::json_quote(reason) + ",\"status\":" + std::to_string(status) + "}";
  return r;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  }
  std::string_view given = authorization.substr(scheme.size());
  if (given.front() != ' ' && given.front() != '\t') return false;
  while (!given.empty() && (given.front() == ' ' || given.front() == '\t')) given.remove_prefix(1);
  while (!given.empty() && (given.back() == ' ' || given.back() == '\t')) given.remove_suffix(1);
  // Every byte of the expected token is looked at whatever `given` holds: the time depends on
  // the expected token's length only.
  volatile unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const unsigned char g = given.empty() ? 0 : static_cast<unsigned char>(given[i % given.size()]);
    diff = diff | (g ^ static_cast<unsigned char>(token[i]));
  }
  return diff == 0;
}

}  // namespace weir::http

namespace weir::http {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < n.size() && same; ++i)
      same =
          std::tolower(static_cast<unsigned char>(n[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return v;
  }
  return {};
}

}  // namespace weir::http
