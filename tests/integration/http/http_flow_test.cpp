// HTTP into the flow, the way the field breaks it: clients keep POSTing NDJSON with an
// Idempotency-Key per request and retry until they get 202, some of their answers dropped on
// purpose (the client goes away before reading it), while the engine running
// http_input -> file_output is SIGKILLed three times. The file counts every record it gets.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "../engine/rig.hpp"
#include "support/free_port.hpp"
#include "support/raw_http.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

TEST_CASE(
    "HTTP: keyed requests retried through three SIGKILLs and dropped answers: every record stored once") {
  EngineRig rig;
  const std::string dir = rig.dir();
  const auto port = free_port();
  rig.write_flow("http.json", R"({"version": 1, "name": "http-e2e", "settings": {"ack_wait": "3s"},
    "components": [
      {"id": "in", "type": "http_input", "config": {"listen": "127.0.0.1:)" +
                                  std::to_string(port) + R"(", "path": "/ingest", "ack_timeout": "5s"}},
      {"id": "stored", "type": "file_output", "inputs": ["in"], "config": {"path": ")" +
                                  dir +
                                  R"(/stored.ndjson"}}
    ]})");
  rig.start_engine();

  constexpr int clients = 4, requests = 200, per_request = 20;
  std::atomic<int> sent{0}, answered_202{0}, dropped{0}, retries{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int r = 0; r < requests && !failed; ++r) {
        std::string body;
        const long first = (static_cast<long>(c) * requests + r) * per_request;
        for (long n = first; n < first + per_request; ++n) body += "{\"n\": " + std::to_string(n) + "}\n";
        const std::vector<std::string> headers{
            "Content-Type: application/x-ndjson",
            "Idempotency-Key: c" + std::to_string(c) + "-r" + std::to_string(r)};
        if (r % 5 == 0) {
          raw_request(port, body, headers, "/ingest", "POST", false);  // the answer is lost
          ++dropped;
        }
        const auto deadline = std::chrono::steady_clock::now() + 180s;
        for (;;) {
          auto reply = raw_request(port, body, headers, "/ingest");
          if (reply.status == 202) break;
          if (reply.status >= 400 && reply.status < 500 && reply.status != 429) {
            MESSAGE("request c" << c << "-r" << r << " refused: " << reply.status << " " << reply.body);
            failed = true;
            return;
          }
          if (std::chrono::steady_clock::now() > deadline) {
            failed = true;
            return;
          }
          ++retries;
          std::this_thread::sleep_for(100ms);  // engine down, 503, or the answer cut by a kill
        }
        ++answered_202;
        ++sent;
      }
    });
  }
  const int total = clients * requests;
  for (int kill = 0; kill < 3; ++kill) {
    const int at = total * (kill + 1) / 5;
    REQUIRE(wait_until([&] { return sent.load() >= at || failed.load(); }, 300s, 20ms));
    MESSAGE("SIGKILL " << kill + 1 << " of the engine after " << sent.load() << " requests answered 202");
    rig.kill_engine();
    std::this_thread::sleep_for(300ms);
    rig.start_engine();
  }
  for (auto& t : threads) t.join();
  REQUIRE_FALSE(failed.load());
  // How many keyed requests the restarts found taken and not seen stored (pushed again with their
  // positions, stored only where the stream lacked them).
  std::size_t recovered = 0;
  const auto log = rig.engine_log();
  for (auto at = log.find("keyed requests taken before the last stop"); at != std::string::npos;
       at = log.find("keyed requests taken before the last stop", at + 1)) {
    const auto line = log.rfind("] ", at);
    recovered += std::strtoul(log.c_str() + line + 2, nullptr, 10);
  }
  MESSAGE(answered_202.load() << " requests answered 202, " << dropped.load()
                              << " answers dropped on purpose, " << retries.load() << " retries; "
                              << recovered << " keyed requests recovered from the key log at restarts");
  expect_each_once(
      dir + "/stored.ndjson", static_cast<std::uint64_t>(total) * per_request, {""},
      [&] { return rig.engine_log(); }, 120s);
}

TEST_CASE(
    "review: a key forgotten (max_keys) and reused for another body within the stream's duplicate window is "
    "stored, not dropped as a JetStream duplicate after a 202") {
  // README: keys are remembered for idempotency_window and at most max_keys; "a retry after that
  // is stored again". The records of a keyed request have the key as their id, and a batch's
  // message id derives from its first and last record ids and its count: a lone request's batch
  // with a reused key gets the message id of the key's first batch, which JetStream drops within
  // the flow's duplicate_window (2 min by default) and acknowledges as if stored.
  EngineRig rig;
  const std::string dir = rig.dir();
  const auto port = free_port();
  rig.write_flow("http.json", R"({"version": 1, "name": "http-reuse",
    "components": [
      {"id": "in", "type": "http_input", "config": {"listen": "127.0.0.1:)" +
                                  std::to_string(port) + R"(", "path": "/ingest", "max_keys": 1000}},
      {"id": "stored", "type": "file_output", "inputs": ["in"], "config": {"path": ")" +
                                  dir +
                                  R"(/stored.ndjson"}}
    ]})");
  rig.start_engine();
  auto send = [&](const std::string& key, const std::string& body) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      auto reply = raw_request(port, body, {"Idempotency-Key: " + key}, "/ingest");
      if (reply.status == 202) return reply.body;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(50ms);
    }
  };
  for (int i = 0; i <= 1000; ++i) send("k" + std::to_string(i), R"({"n": )" + std::to_string(i) + "}");
  // "k0" is forgotten now (1001 keys, max_keys 1000): a new body under it is a new request.
  CHECK(send("k0", R"({"n": "again"})") == R"({"stored":1})");
  const auto path = dir + "/stored.ndjson";
  const bool found = wait_until(
      [&] {
        std::ifstream in(path);
        std::string all((std::istreambuf_iterator<char>(in)), {});
        return all.find("again") != std::string::npos;
      },
      20s, 100ms);
  CHECK_MESSAGE(found, "the 202-answered record {\"n\": \"again\"} never reached the flow's output");
}

TEST_CASE(
    "review: SIGTERM while http_output retries against a dead endpoint: the engine stops within its "
    "shutdown_timeout (10 s)") {
  // README (http_output): "stop() ends a write that is waiting". The engine calls stop() only
  // after its output threads were joined, and a write retries for retry_time.
  EngineRig rig;
  const std::string dir = rig.dir();
  const auto port = free_port();
  const auto dead = free_port();  // nothing listens there
  rig.write_flow("http.json", R"({"version": 1, "name": "http-stop",
    "components": [
      {"id": "in", "type": "http_input", "config": {"listen": "127.0.0.1:)" +
                                  std::to_string(port) + R"(", "path": "/ingest"}},
      {"id": "out", "type": "http_output", "inputs": ["in"], "config": {"url": "http://127.0.0.1:)" +
                                  std::to_string(dead) + R"(/x", "retry_time": "10m", "backoff_max": "1s"}}
    ]})");
  rig.start_engine();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    if (raw_request(port, R"({"n": 1})", {}, "/ingest").status == 202) break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(wait_until([&] { return rig.engine_log().find("retrying") != std::string::npos; }, 20s, 50ms));
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = rig.stop_engine();  // SIGTERM; SIGKILL after 20 s
  const auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("stopped in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms, rc "
                        << rc);
  CHECK(took < 15s);
  CHECK(rc == 0);
}
