// Endpoint::create: checks the options without opening anything, then picks one of the four
// endpoint kinds (role x transport).
#include <fstream>
#include <string>
#include <vector>
#include <websocketpp/uri.hpp>

#include "common/websocket/endpoints.hpp"
#include "common/websocket/link.hpp"
#include "sdk/base/quote.hpp"

namespace weir::ws {
namespace detail {

bool split_host_port(const std::string& address, std::string& host, std::string& port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs brackets: [::]:8765
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  return std::stoul(port) <= 65535;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace detail

namespace {

void check_file(const char* field, const std::string& path, std::vector<std::string>& problems) {
  if (path.empty()) return;
  if (!std::ifstream(path).good()) problems.push_back(std::string(field) + ": cannot read " + path);
}

void check_tls(const EndpointOptions& o, std::vector<std::string>& problems) {
  const TlsOptions& t = o.tls_files;
  if (o.mode == EndpointOptions::Mode::listen) {
    if (t.cert.empty()) problems.emplace_back("tls.cert: required to serve wss");
    if (t.key.empty()) problems.emplace_back("tls.key: required to serve wss");
  } else if (t.cert.empty() != t.key.empty()) {
    problems.emplace_back("tls.cert and tls.key: a client certificate needs both");
  }
  check_file("tls.cert", t.cert, problems);
  check_file("tls.key", t.key, problems);
  check_file("tls.ca", t.ca, problems);
}

void check_listen(const EndpointOptions& o, std::vector<std::string>& problems) {
  std::string host, port;
  if (!detail::split_host_port(o.listen, host, port)) {
    problems.push_back("listen: expected host:port (port 0-65535, IPv6 in brackets), got " +
                       sdk::quote(o.listen));
  }
  if (o.path.empty() || o.path.front() != '/') problems.emplace_back("path: must start with /");
  if (o.max_clients == 0) problems.emplace_back("max_clients: must be at least 1");
}

// websocketpp's own parser: it is the one that dials, so what passes here is what it accepts.
void check_url(EndpointOptions& o, std::vector<std::string>& problems) {
  websocketpp::uri uri(o.url);
  if (!uri.get_valid() || (uri.get_scheme() != "ws" && uri.get_scheme() != "wss") || uri.get_host().empty()) {
    problems.push_back("url: expected ws://host[:port]/path or wss://..., got " + sdk::quote(o.url));
    return;
  }
  o.tls = uri.get_secure();
  if (uri.get_port() == 0) problems.emplace_back("url: port 0 cannot be dialed");
}

std::string join(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

std::unique_ptr<Endpoint> Endpoint::create(EndpointOptions options, Handlers handlers, std::string& error) {
  std::vector<std::string> problems;
  const bool listen = options.mode == EndpointOptions::Mode::listen;
  if (listen) {
    check_listen(options, problems);
  } else {
    check_url(options, problems);
  }
  if (options.tls) check_tls(options, problems);
  if (options.max_frame_size == 0) problems.emplace_back("max_frame_size: must be at least 1 byte");
  if (options.heartbeat.count() < 0) problems.emplace_back("heartbeat: must not be negative");
  if (options.open_timeout.count() <= 0) problems.emplace_back("open_timeout: must be positive");
  if (!listen) {
    if (options.reconnect_min.count() <= 0) problems.emplace_back("reconnect_min: must be positive");
    if (options.reconnect_max < options.reconnect_min) {
      problems.emplace_back("reconnect_max: must be at least reconnect_min");
    }
  }
  if (!problems.empty()) {
    error = join(problems);
    return nullptr;
  }
  if (listen) {
    return options.tls ? detail::make_tls_server(std::move(options), std::move(handlers))
                       : detail::make_plain_server(std::move(options), std::move(handlers));
  }
  return options.tls ? detail::make_tls_client(std::move(options), std::move(handlers))
                     : detail::make_plain_client(std::move(options), std::move(handlers));
}

}  // namespace weir::ws
