// MQTT end to end, the way the field breaks it: a publisher keeps publishing numbered messages
// to mosquitto while the engine running mqtt_input -> json_filter -> json_map -> mqtt_output is
// SIGKILLed three times and the broker is restarted once. Independent Paho clients publish and
// count (every message the subscriber gets is a line, duplicates included).
//
// Where a duplicate comes from is told by three counts of the same numbers:
//   tap     a second subscriber on the input topic: what the broker delivered (publisher hop)
//   stored  a file_output beside the pipeline (exactly once by stream position): what
//           mqtt_input stored in the flow (broker -> engine hop)
//   out     the subscriber on the output topic (engine -> broker -> subscriber hop)
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "../engine/rig.hpp"
#include "paho_clients.hpp"
#include "support/child_process.hpp"
#include "support/mosquitto_harness.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// How often each number n appears in a file of JSON lines {"n": ...}.
std::map<long, int> counts(const std::string& file) {
  std::map<long, int> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("\"n\":");
    if (at == std::string::npos) continue;
    out[std::strtol(line.c_str() + at + 4, nullptr, 10)]++;
  }
  return out;
}

// How many numbers of `want` `have` lacks.
std::size_t lacking(const std::map<long, int>& have, const std::map<long, int>& want) {
  std::size_t n = 0;
  for (const auto& [k, v] : want)
    if (!have.contains(k)) ++n;
  return n;
}

struct Tally {
  std::size_t distinct = 0, missing = 0, duplicates = 0;
};

Tally tally(const std::map<long, int>& c, long n) {
  Tally t;
  for (long i = 0; i < n; ++i) {
    auto it = c.find(i);
    if (it == c.end()) {
      ++t.missing;
      continue;
    }
    ++t.distinct;
    t.duplicates += static_cast<std::size_t>(it->second - 1);
  }
  return t;
}

void run(int qos, long n, double rate, const std::string& linger = "0s") {
  MosquittoOptions mo;
  mo.max_inflight = 100;
  mo.autosave_interval = 600;  // the restart below is graceful: the broker saves then
  Mosquitto broker(mo);
  EngineRig rig;
  const std::string dir = rig.dir();
  const std::string q = std::to_string(qos);
  rig.write_flow("mqtt.json", R"({"version": 1, "name": "mqtt-e2e", "settings": {"ack_wait": "3s"},
    "components": [
      {"id": "in", "type": "mqtt_input", "config": {"url": ")" +
                                  broker.url() + R"(", "topics": ["in/#"], "qos": )" + q +
                                  R"(, "client_id": "e2e-in", "linger": ")" + linger + R"("}},
      {"id": "stored", "type": "file_output", "inputs": ["in"], "config": {"path": ")" +
                                  dir +
                                  R"(/stored.ndjson"}},
      {"id": "valid", "type": "json_filter", "inputs": ["in"], "config": {"where": "n >= 0"}},
      {"id": "doubled", "type": "json_map", "inputs": ["valid"], "config": {"set": {"v2": "v * 2"}}},
      {"id": "out", "type": "mqtt_output", "inputs": ["doubled"], "config": {"url": ")" +
                                  broker.url() + R"(", "topic": "out/data", "qos": )" + q +
                                  R"(, "client_id": "e2e-out"}}
    ]})");
  auto out_sub = subscriber(broker, "out/#", "e2e-count", qos, dir + "/out.ndjson", dir);
  auto tap_sub = subscriber(broker, "in/#", "e2e-tap", qos, dir + "/tap.ndjson", dir);
  rig.start_engine();
  // The input's session must exist before the first message, or the broker has nobody to keep
  // it for: wait for the engine's subscription.
  REQUIRE(wait_until([&] { return rig.engine_log().find("[mqtt-e2e/in] connected to") != std::string::npos; },
                     30s));

  ChildProcess publisher({python(), clients_script(), "pub", "--port", std::to_string(broker.port()),
                          "--topic", "in/data", "--count", std::to_string(n), "--qos", q, "--rate",
                          std::to_string(rate), "--id", "e2e-pub", "--done", dir + "/pub.done"},
                         dir + "/pub.log");
  const auto secs = [&](double s) { return std::chrono::milliseconds(static_cast<long>(s * 1000)); };
  const double span = static_cast<double>(n) / rate;  // how long the publisher takes
  std::this_thread::sleep_for(secs(span * 0.15));
  for (int kill = 0; kill < 3; ++kill) {
    MESSAGE("SIGKILL " << kill + 1 << " of the engine, " << counts(dir + "/tap.ndjson").size()
                       << " messages published so far");
    rig.kill_engine();
    std::this_thread::sleep_for(500ms);
    rig.start_engine();
    std::this_thread::sleep_for(secs(span * 0.12));
    if (kill == 1) {
      MESSAGE("broker restart");
      broker.restart();
      std::this_thread::sleep_for(secs(span * 0.1));
    }
  }
  REQUIRE_MESSAGE(wait_until([&] { return std::filesystem::exists(dir + "/pub.done"); }, 300s, 200ms),
                  publisher.log());
  // Everything confirmed by the broker; wait until the output has every number (or a deadline
  // past every timeout: ack_wait 3 s, ack_timeout 30 s, reconnect backoff, and a
  // sanitizer build's slower catching up), then a little more
  // for duplicates still on their way.
  wait_until(
      [&] {
        const auto tap_now = counts(dir + "/tap.ndjson");
        return lacking(counts(dir + "/stored.ndjson"), tap_now) == 0 &&
               lacking(counts(dir + "/out.ndjson"), tap_now) == 0;
      },
      400s, 500ms);
  std::this_thread::sleep_for(3s);

  const auto tap_counts = counts(dir + "/tap.ndjson");
  const auto stored_counts = counts(dir + "/stored.ndjson");
  const auto out_counts = counts(dir + "/out.ndjson");
  const auto tap = tally(tap_counts, n);
  const auto stored = tally(stored_counts, n);
  const auto out = tally(out_counts, n);
  MESSAGE("QoS " << qos << ", " << n << " messages: tap " << tap.distinct << " distinct + " << tap.duplicates
                 << " duplicates (publisher hop); stored " << stored.distinct << " + " << stored.duplicates
                 << " (broker -> mqtt_input hop: "
                 << static_cast<long>(stored.duplicates) - static_cast<long>(tap.duplicates) << "); out "
                 << out.distinct << " + " << out.duplicates << " (mqtt_output hop: "
                 << static_cast<long>(out.duplicates) - static_cast<long>(stored.duplicates) << ")");
  // weir's part: every message the broker delivered (the tap got it) is stored, every stored one
  // reaches the subscriber. What the tap lacks never reached any subscriber: lost between the
  // publisher and the broker, which is measured and reported, not weir's to deliver.
  if (tap.missing != 0)
    MESSAGE(tap.missing
            << " messages the publisher had confirmed (PUBCOMP/PUBACK) never reached any subscriber: lost "
               "by the broker around its restart (mosquitto 2.0.11 with a QoS 2 publisher; the same happens "
               "without weir)");
  CHECK(lacking(stored_counts, tap_counts) == 0);
  CHECK(lacking(out_counts, stored_counts) == 0);
  if (lacking(out_counts, tap_counts) != 0) {
    std::string which;
    for (const auto& [k, v] : tap_counts)
      if (!out_counts.contains(k) && which.size() < 200) which += std::to_string(k) + " ";
    // Kept for a look: the engine's log and data dir, the counts, the broker's log.
    const auto keep =
        std::filesystem::temp_directory_path() / ("weir-mqtt-flow-failed-qos" + std::to_string(qos));
    std::error_code ec;
    std::filesystem::remove_all(keep, ec);
    std::filesystem::copy(dir, keep, std::filesystem::copy_options::recursive, ec);
    std::filesystem::copy(broker.dir(), keep / "broker", std::filesystem::copy_options::recursive, ec);
    MESSAGE("not at the subscriber: " << which << "(kept in " << keep.string() << ")");
  }
  if (qos == 2) {
    // Exactly once through weir: what the tap got twice (the publisher's hop) may be stored twice,
    // nothing more.
    CHECK(stored.duplicates <= tap.duplicates);
    CHECK(out.duplicates <= stored.duplicates);
  } else {
    CHECK(tap.missing == 0);  // a QoS 1 publisher loses nothing at the broker's restart
  }
}

// 30,000 messages by default (the kills and the restart fall at the same fractions of the
// publisher's run whatever the count; 100,000 take about 9 minutes, too long for CI):
// MQTT_FLOW_MESSAGES=100000 is the issue's figure.
long messages() {
  const char* v = std::getenv("MQTT_FLOW_MESSAGES");
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : 30000;
}

}  // namespace

TEST_CASE(
    "MQTT QoS 2: a live publisher's messages through three SIGKILLs and a broker restart: none lost, none "
    "twice") {
  run(2, messages(), 2500, "5ms");  // the input's batches of several messages through the kills too
}

TEST_CASE(
    "MQTT QoS 1: a live publisher's messages through three SIGKILLs and a broker restart: none lost, "
    "duplicates by "
    "hop") {
  run(1, messages(), 2500);
}
