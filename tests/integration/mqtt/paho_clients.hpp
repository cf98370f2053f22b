// The independent Paho clients of mqtt_clients.py, started from a test: the interpreter, the
// script, and a subscriber that writes every message it gets to a file (mqtt_flow, stream_mqtt).
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "support/child_process.hpp"
#include "support/mosquitto_harness.hpp"

namespace weir::testing {

inline std::string python() {
  const char* p = std::getenv("WEIR_PYTHON");
  return p != nullptr && *p != '\0' ? p : "/usr/bin/python3";
}

inline std::string clients_script() {
  const char* root = std::getenv("WEIR_SOURCE_ROOT");
  REQUIRE_MESSAGE(root != nullptr, "WEIR_SOURCE_ROOT is not set");
  return std::string(root) + "/tests/integration/mqtt/mqtt_clients.py";
}

// A persistent-session subscriber to `filter` writing each message as a line of `out`; returns
// once it subscribed (its log, `dir`/`id`.log, says so).
inline std::unique_ptr<ChildProcess> subscriber(const Mosquitto& b, const std::string& filter,
                                                const std::string& id, int qos, const std::string& out,
                                                const std::string& dir) {
  auto p = std::make_unique<ChildProcess>(
      std::vector<std::string>{python(), clients_script(), "sub", "--port", std::to_string(b.port()),
                               "--filter", filter, "--qos", std::to_string(qos), "--id", id, "--out", out},
      dir + "/" + id + ".log");
  REQUIRE_MESSAGE(wait_until(
                      [&] {
                        std::ifstream in(dir + "/" + id + ".log");
                        std::string all((std::istreambuf_iterator<char>(in)), {});
                        return all.find("subscribed") != std::string::npos;
                      },
                      std::chrono::seconds(15), std::chrono::milliseconds(50)),
                  "the Paho subscriber " << id << " did not subscribe: " << p->log());
  return p;
}

}  // namespace weir::testing
