#pragma once

// One real nats-server per test case, a connection and a JetStream context.

#include "bus/connection.hpp"
#include "bus/status.hpp"
#include "bus/topology.hpp"
#include "support/nats_harness.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace weir::testing {

inline std::unique_ptr<bus::Connection> connect_to(const NatsServer& server,
                                                   const std::string& name = "test") {
  bus::ConnectOptions o;
  o.url = server.url();
  o.name = name;
  o.connect_timeout = std::chrono::seconds(10);
  auto c = bus::Connection::connect(o);
  if (!c) throw std::runtime_error(c.status().text());
  return std::move(c).value();
}

struct BusFixture {
  NatsServer server;
  std::unique_ptr<bus::Connection> conn = connect_to(server);
  bus::JetStream js = make_js();

  bus::JetStream make_js() {
    auto j = conn->jetstream();
    if (!j) throw std::runtime_error(j.status().text());
    return std::move(j).value();
  }

  // A stream "S" on "s.>" with a 2 minute duplicate window, file storage, limits retention.
  void make_stream(const std::string& name = "S", const std::string& subjects = "s.>") {
    bus::StreamSpec spec;
    spec.name = name;
    spec.subjects = {subjects};
    spec.retention = bus::Retention::limits;
    auto r = bus::ensure_stream(js.raw(), spec);
    REQUIRE_MESSAGE(r.ok(), r.status().text());
  }

  void make_consumer(const std::string& stream, const std::string& durable, const std::string& filter,
                     std::chrono::nanoseconds ack_wait = std::chrono::seconds(30)) {
    bus::ConsumerSpec spec;
    spec.durable = durable;
    spec.filter_subject = filter;
    spec.ack_wait = ack_wait;
    spec.max_ack_pending = 20000;
    auto r = bus::ensure_consumer(js.raw(), stream, spec);
    REQUIRE_MESSAGE(r.ok(), r.status().text());
  }

  std::uint64_t stream_messages(const std::string& name = "S") {
    auto info = bus::stream_info(js.raw(), name);
    REQUIRE_MESSAGE(info.ok(), info.status().text());
    return info->messages;
  }
};

}  // namespace weir::testing
