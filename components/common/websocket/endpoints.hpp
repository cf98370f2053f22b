// Internal: the four endpoint kinds, each built in a translation unit of its own (a websocketpp
// TU compiles for most of a minute), and helpers shared by link.cpp and the endpoints.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/websocket/link.hpp"

namespace weir::ws::detail {

std::unique_ptr<Endpoint> make_plain_server(EndpointOptions options, Handlers handlers);
std::unique_ptr<Endpoint> make_tls_server(EndpointOptions options, Handlers handlers);
std::unique_ptr<Endpoint> make_plain_client(EndpointOptions options, Handlers handlers);
std::unique_ptr<Endpoint> make_tls_client(EndpointOptions options, Handlers handlers);

// "host:port" or "[v6]:port" with a numeric port 0-65535. False when malformed.
bool split_host_port(const std::string& address, std::string& host, std::string& port);

// Compares in a time that depends on the lengths only, not on where the first difference is:
// the bearer token must not be guessable byte by byte from response times.
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace weir::ws::detail
