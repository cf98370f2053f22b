#include "common/syslog/decode.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>
#include <cstring>

#include "common/syslog/parse.hpp"
#include "sdk/base/record_json.hpp"
#include "sdk/component.hpp"

namespace weir::components::syslog {

Decoder::Decoder(Format format, std::string sender_field)
    : format_(format),
      sender_field_(std::move(sender_field)),
      parser_(std::make_unique<sdk::RecordParser>()) {}

Decoder::~Decoder() = default;

bool Decoder::decode(std::string_view payload, std::string_view sender, boost::json::value& out,
                     std::string& reason) {
  switch (format_) {
    case Format::syslog: {
      boost::json::object o;
      if (!parse(payload, o, reason)) return false;
      out = std::move(o);
      break;
    }
    case Format::json:
      if (!parser_->parse(payload, out, reason)) return false;
      break;
    case Format::text: {
      while (!payload.empty() && (payload.back() == '\n' || payload.back() == '\r')) payload.remove_suffix(1);
      boost::json::value text;
      if (!parser_->payload(payload, true, text, reason)) return false;
      out = boost::json::object{{"message", std::move(text)}};
      break;
    }
  }
  if (!sender_field_.empty() && out.is_object()) out.get_object()[sender_field_] = sender;
  return true;
}

bool Decoder::deliver(sdk::InputSink& sink, std::string_view payload, std::string_view sender,
                      std::string refused, bool& sink_ok) {
  boost::json::value v;
  std::string reason = std::move(refused);
  if (reason.empty() && decode(payload, sender, v, reason)) {
    sink_ok = sink.push(sdk::Record{{}, std::move(v)});
    return true;
  }
  reason += " (from ";
  reason += sender;
  reason += ")";
  sink_ok = sink.fail(sdk::Record{{}, sdk::raw_record_value(payload, reason)}, reason);
  return false;
}

namespace {

bool resolve(const std::string& listen, int socktype, sockaddr_storage& addr, socklen_t& len,
             std::string& error) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    error = "host:port expected, got \"" + listen + "\"";
    return false;
  }
  auto host = listen.substr(0, colon);
  const auto port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
      rc != 0) {
    error = "cannot resolve " + listen + ": " + ::gai_strerror(rc);
    return false;
  }
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return true;
}

}  // namespace

int listen_socket(const std::string& listen, int socktype, const std::function<void(int fd)>& before_bind,
                  std::string& error) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!resolve(listen, socktype, addr, len, error)) return -1;
  const int fd = ::socket(addr.ss_family, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (before_bind) before_bind(fd);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      (socktype == SOCK_STREAM && ::listen(fd, 128) != 0)) {
    error = "cannot listen on " + listen + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string address_text(const sockaddr_storage& addr) {
  char ip[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unknown";
}

unsigned bound_port(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
  return 0;
}

}  // namespace weir::components::syslog
