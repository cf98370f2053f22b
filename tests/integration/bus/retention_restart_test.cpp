// Two broker properties weir's delivery guarantee rests on, across a graceful nats-server
// restart: a limits stream keeps every acknowledged message, and a message delivered but not
// acknowledged is delivered again. (Flow streams use limits retention plus the engine's janitor,
// not interest retention: see src/runtime/janitor.hpp.)
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>

#include "bus/publisher.hpp"
#include "bus/pull_consumer.hpp"
#include "support/nats_fixture.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// Publishes n messages with ids across one server restart; returns how many a durable that
// existed before the first publish still has pending (none were consumed).
std::uint64_t kept_after_restart(BusFixture& f, bus::Retention retention, int n) {
  bus::StreamSpec s;
  s.name = "R";
  s.subjects = {"r.>"};
  s.retention = retention;
  REQUIRE(bus::ensure_stream(f.js.raw(), s).ok());
  bus::ConsumerSpec c;
  c.durable = "reader";
  c.filter_subject = "r.x";
  REQUIRE(bus::ensure_consumer(f.js.raw(), "R", c).ok());
  auto pub = bus::AsyncPublisher::create(*f.conn);
  REQUIRE(pub.ok());
  std::atomic<int> sent{0};
  std::thread restarter([&] {
    wait_until([&] { return sent.load() > n / 3; }, 60s);
    f.server.restart();
  });
  std::vector<bus::PublishFailure> failures;
  for (int i = 0; i < n; ++i) {
    (void)pub.value()->publish("r.x", "{}", "m" + std::to_string(i));
    sent = i;
    if (i % 1000 == 999) {
      // Every message acknowledged before going on, retried with the same id until it is.
      for (;;) {
        failures.clear();
        (void)pub.value()->wait_all(5s, failures);
        if (failures.empty()) break;
        std::this_thread::sleep_for(50ms);
        (void)pub.value()->retry(failures);
      }
    }
  }
  restarter.join();
  auto info = bus::consumer_info(f.js.raw(), "R", "reader");
  REQUIRE(info.ok());
  return info->num_pending + static_cast<std::uint64_t>(info->num_ack_pending);
}

}  // namespace

TEST_CASE("limits retention keeps every acknowledged message across a graceful restart") {
  BusFixture f;
  CHECK(kept_after_restart(f, bus::Retention::limits, 60000) == 60000);
}

TEST_CASE("delivered but unacknowledged messages come back after a graceful restart") {
  BusFixture f;
  bus::StreamSpec s;
  s.name = "P";
  s.subjects = {"p.>"};
  s.retention = bus::Retention::limits;
  REQUIRE(bus::ensure_stream(f.js.raw(), s).ok());
  bus::ConsumerSpec c;
  c.durable = "reader";
  c.filter_subject = "p.x";
  c.ack_wait = 1s;
  REQUIRE(bus::ensure_consumer(f.js.raw(), "P", c).ok());
  auto pub = bus::AsyncPublisher::create(*f.conn);
  REQUIRE(pub.ok());
  for (int i = 0; i < 1000; ++i)
    REQUIRE(pub.value()->publish("p.x", std::to_string(i), "m" + std::to_string(i)).ok());
  std::vector<bus::PublishFailure> failures;
  REQUIRE(pub.value()->wait_all(10s, failures).ok());
  REQUIRE(failures.empty());
  std::set<std::string> seen;
  {
    auto sub = bus::PullConsumer::bind(f.js.raw(), "P", "reader");
    REQUIRE(sub.ok());
    std::vector<bus::Msg> msgs;
    REQUIRE(sub->fetch(500, 5s, msgs).ok());
    REQUIRE(msgs.size() == 500);
    for (std::size_t i = 0; i < 250; ++i) {
      seen.insert(std::string(msgs[i].view()));
      (void)msgs[i].ack();  // the other 250 stay delivered, unacknowledged
    }
    REQUIRE(f.conn->flush(5s).ok());
  }
  f.server.restart();
  auto sub = bus::PullConsumer::bind(f.js.raw(), "P", "reader");
  REQUIRE(sub.ok());
  wait_until(
      [&] {
        std::vector<bus::Msg> msgs;
        (void)sub->fetch(500, 1s, msgs);
        for (auto& m : msgs) {
          seen.insert(std::string(m.view()));
          (void)m.ack();
        }
        return seen.size() == 1000;
      },
      30s, 0ms);
  CHECK(seen.size() == 1000);
}
