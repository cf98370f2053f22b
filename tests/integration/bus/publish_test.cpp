#include "bus/publisher.hpp"
#include "support/nats_fixture.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

using namespace weir;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<bus::AsyncPublisher> make_publisher(const bus::Connection& conn,
                                                    bus::PublisherOptions o = {}) {
  auto p = bus::AsyncPublisher::create(conn, o);
  REQUIRE_MESSAGE(p.ok(), p.status().text());
  return std::move(p).value();
}

}  // namespace

TEST_CASE_FIXTURE(testing::BusFixture, "20,000 async publishes with msg ids all land in the stream") {
  make_stream();
  auto pub = make_publisher(*conn);
  const std::string payload(128, 'x');
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) {
    const auto st = pub->publish("s.data", payload, "id-" + std::to_string(i));
    REQUIRE_MESSAGE(st.ok(), st.text());
  }
  std::vector<bus::PublishFailure> failures;
  const auto st = pub->wait_all(60s, failures);
  CHECK_MESSAGE(st.ok(), st.text());
  CHECK(failures.empty());
  CHECK(pub->outstanding() == 0);
  const auto stats = pub->stats();
  CHECK(stats.published == n);
  CHECK(stats.acked == n);
  CHECK(stats.duplicates == 0);
  CHECK(stats.failed == 0);
  CHECK(stream_messages() == n);
}

TEST_CASE_FIXTURE(testing::BusFixture, "the same msg id twice within the duplicate window is stored once") {
  make_stream();
  auto pub = make_publisher(*conn);
  REQUIRE(pub->publish("s.a", "first", "same-id").ok());
  REQUIRE(pub->publish("s.a", "second", "same-id").ok());
  REQUIRE(pub->publish("s.a", "other", "other-id").ok());
  std::vector<bus::PublishFailure> failures;
  REQUIRE(pub->wait_all(10s, failures).ok());
  CHECK(failures.empty());
  CHECK(pub->stats().duplicates == 1);  // a duplicate counts as success
  CHECK(stream_messages() == 2);

  auto again = pub->publish_sync("s.a", "third", "same-id");
  REQUIRE_MESSAGE(again.ok(), again.status().text());
  CHECK(again->duplicate);
  CHECK(again->stream == "S");
  CHECK(stream_messages() == 2);
}

TEST_CASE_FIXTURE(testing::BusFixture, "headers travel with the message") {
  make_stream();
  auto pub = make_publisher(*conn);
  const bus::Header headers[] = {{"Weir-Origin", "sensor-1"}, {"Weir-Count", "3"}};
  auto ack = pub->publish_sync("s.h", "body", "h-1", headers);
  REQUIRE_MESSAGE(ack.ok(), ack.status().text());
  CHECK(ack->sequence == 1);

  natsMsg* raw = nullptr;
  REQUIRE(js_GetLastMsg(&raw, js.raw(), "S", "s.h", nullptr, nullptr) == NATS_OK);
  bus::Msg stored(raw);
  CHECK(stored.view() == "body");
  CHECK(stored.msg_id() == "h-1");
  CHECK(*stored.header("Weir-Origin") == "sensor-1");
  CHECK(*stored.header("Weir-Count") == "3");
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "failed publishes are reported with their msg ids and can be retried") {
  auto pub = make_publisher(*conn);
  // No stream listens on "s.>" yet: the server answers "no responders" for each message.
  std::set<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.insert("r-" + std::to_string(i));
    REQUIRE(pub->publish("s.retry", "payload-" + std::to_string(i), "r-" + std::to_string(i)).ok());
  }
  std::vector<bus::PublishFailure> failures;
  const auto st = pub->wait_all(10s, failures);
  REQUIRE_FALSE(st.ok());
  MESSAGE(st.text());
  REQUIRE(failures.size() == 10);
  std::set<std::string> failed_ids;
  for (const auto& f : failures) {
    failed_ids.insert(f.msg_id);
    CHECK(f.subject == "s.retry");
    CHECK(f.error.code() == NATS_NO_RESPONDERS);
    CHECK(static_cast<bool>(f.message));
  }
  CHECK(failed_ids == ids);

  make_stream();
  REQUIRE(pub->retry(failures).ok());
  CHECK(failures.empty());
  REQUIRE(pub->wait_all(10s, failures).ok());
  CHECK(stream_messages() == 10);
  natsMsg* raw = nullptr;
  REQUIRE(js_GetMsg(&raw, js.raw(), "S", 1, nullptr, nullptr) == NATS_OK);
  bus::Msg first(raw);
  CHECK(first.view().rfind("payload-", 0) == 0);
  CHECK(first.msg_id().rfind("r-", 0) == 0);
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "a message over the stream's size limit fails with the server's reason") {
  bus::StreamSpec spec;
  spec.name = "SMALL";
  spec.subjects = {"small.>"};
  spec.max_msg_size = 64;
  spec.retention = bus::Retention::limits;  // interest retention would drop it: no consumer yet
  REQUIRE(bus::ensure_stream(js.raw(), spec).ok());
  auto pub = make_publisher(*conn);
  REQUIRE(pub->publish("small.x", std::string(1000, 'y'), "big-1").ok());
  REQUIRE(pub->publish("small.x", "tiny", "small-1").ok());
  std::vector<bus::PublishFailure> failures;
  REQUIRE_FALSE(pub->wait_all(10s, failures).ok());
  REQUIRE(failures.size() == 1);
  CHECK(failures.front().msg_id == "big-1");
  CHECK(failures.front().error.js_code() != 0);
  MESSAGE(failures.front().error.text());
  CHECK(stream_messages("SMALL") == 1);
}
