// Internal: text helpers without Beast (request targets, addresses, JSON strings).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::http::detail {

// Decodes %XX (and '+' as a space when `plus_is_space`). False for a malformed escape or %00.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out);

// Splits a request target into its decoded path and query. An absolute-form target
// ("http://host/p?q") keeps only the path and query. False with a reason for a malformed one.
bool parse_target(std::string_view target, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query, std::string& reason);

// "host:port", "[v6]:port", ":port" (all addresses). False when there is no port.
bool split_host_port(std::string_view host_port, std::string& host, std::string& port);

// A client's "host:port" or "http://host:port[/]" (port 80 when missing): host and port to
// connect to, and the authority for the Host header. False with a reason.
bool client_address(std::string_view in, std::string& host, std::string& port, std::string& authority,
                    std::string& reason);

// "Connection refused" → "connection refused".
std::string lower_first(std::string s);

// `s` as a JSON string literal with quotes; invalid UTF-8 becomes U+FFFD.
std::string json_quote(std::string_view s);

}  // namespace weir::http::detail
