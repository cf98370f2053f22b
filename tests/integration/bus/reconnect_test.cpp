#include "bus/publisher.hpp"
#include "support/nats_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace weir;
using namespace std::chrono_literals;
using testing::wait_until;

TEST_CASE_FIXTURE(
    testing::BusFixture,
    "publishes while the server is down are reported failed, and a retry after it returns stores each once") {
  make_stream();
  bus::PublisherOptions po;
  po.ack_timeout = 1s;  // the per-message deadline path (the default leaves it to wait_all)
  auto created = bus::AsyncPublisher::create(*conn, po);
  REQUIRE(created.ok());
  auto& pub = *created;
  std::vector<bus::PublishFailure> failures;

  for (int i = 0; i < 1000; ++i) REQUIRE(pub->publish("s.r", "before", "b-" + std::to_string(i)).ok());
  REQUIRE(pub->wait_all(30s, failures).ok());

  server.stop();
  REQUIRE(wait_until([&] { return conn->state() == bus::ConnState::reconnecting; }, 10s));

  std::set<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    ids.insert("d-" + std::to_string(i));
    // Buffered by the connection while it reconnects: accepted now, acked never (server down).
    REQUIRE(pub->publish("s.r", "during", "d-" + std::to_string(i)).ok());
  }
  const auto st = pub->wait_all(30s, failures);
  REQUIRE_FALSE(st.ok());
  MESSAGE(st.text());
  REQUIRE(failures.size() == 500);
  std::set<std::string> failed;
  for (const auto& f : failures) failed.insert(f.msg_id);
  CHECK(failed == ids);
  CHECK(pub->outstanding() == 0);

  server.start();  // same port, same store
  REQUIRE(wait_until([&] { return conn->connected(); }, 20s));
  CHECK(conn->reconnects() >= 1);

  // The buffered copies may have reached the new server on reconnect: the msg ids make the
  // retry idempotent either way.
  REQUIRE(pub->retry(failures).ok());
  const auto again = pub->wait_all(30s, failures);
  REQUIRE_MESSAGE(again.ok(), again.text());
  CHECK(failures.empty());
  CHECK(stream_messages() == 1500);
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "a server restart in the middle of a stream loses and duplicates nothing") {
  make_stream();
  auto created = bus::AsyncPublisher::create(*conn);  // defaults, as the runtime uses them
  REQUIRE(created.ok());
  auto& pub = *created;

  constexpr int batches = 40;
  constexpr int per_batch = 500;
  std::atomic<int> done{0};
  std::atomic<int> batches_with_failures{0};
  std::string error;
  std::thread producer([&] {
    for (int b = 0; b < batches && error.empty(); ++b) {
      for (int i = 0; i < per_batch; ++i)
        (void)pub->publish("s.m", "payload", std::to_string(b) + "-" + std::to_string(i));
      std::vector<bus::PublishFailure> failures;
      bool failed_once = false;
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      for (auto st = pub->wait_all(5s, failures); !st.ok(); st = pub->wait_all(5s, failures)) {
        failed_once = true;
        if (std::chrono::steady_clock::now() > deadline) {
          error = "batch " + std::to_string(b) + " still failing: " + st.text();
          break;
        }
        wait_until([&] { return conn->connected(); }, 20s);
        (void)pub->retry(failures);
      }
      if (failed_once) ++batches_with_failures;
      ++done;
    }
  });
  REQUIRE(wait_until([&] { return done.load() >= 5; }, 60s));
  server.restart();
  producer.join();
  REQUIRE_MESSAGE(error.empty(), error);
  MESSAGE("batches that needed a retry: " << batches_with_failures.load());
  CHECK(stream_messages() == static_cast<std::uint64_t>(batches * per_batch));
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "with the server gone a full window fails fast instead of blocking each publish") {
  make_stream();
  bus::PublisherOptions po;
  po.max_pending = 10;
  po.publish_timeout = 300ms;
  auto created = bus::AsyncPublisher::create(*conn, po);
  REQUIRE(created.ok());
  auto& pub = *created;

  server.stop();
  REQUIRE(wait_until([&] { return conn->state() == bus::ConnState::reconnecting; }, 10s));
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += pub->publish("s.w", "x", "w-" + std::to_string(i)).ok() ? 1 : 0;
  CHECK(accepted == 10);  // the window; the 11th waited publish_timeout, the rest failed at once
  std::vector<bus::PublishFailure> failures;
  REQUIRE_FALSE(pub->wait_all(500ms, failures).ok());
  CHECK(failures.size() == 100);
  CHECK(pub->outstanding() == 0);

  server.start();
  REQUIRE(wait_until([&] { return conn->connected(); }, 20s));
  REQUIRE(pub->retry(failures).ok());
  const auto st = pub->wait_all(30s, failures);
  REQUIRE_MESSAGE(st.ok(), st.text());
  CHECK(stream_messages() == 100);
}
