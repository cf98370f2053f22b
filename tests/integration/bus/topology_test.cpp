#include "support/nats_fixture.hpp"

#include <doctest/doctest.h>

using namespace weir;
using bus::Ensured;

namespace {

bus::StreamSpec flow_stream() {
  bus::StreamSpec s;
  s.name = "WEIR_DEMO";
  s.subjects = {"weir.demo.>"};
  s.retention = bus::Retention::interest;
  s.max_bytes = 64 * 1024 * 1024;
  s.max_age = std::chrono::hours(72);
  s.discard = bus::Discard::new_messages;
  s.duplicate_window = std::chrono::minutes(5);
  return s;
}

}  // namespace

TEST_CASE_FIXTURE(testing::BusFixture, "ensure_stream creates once, then is a no-op, then updates") {
  auto spec = flow_stream();
  auto first = bus::ensure_stream(js.raw(), spec);
  REQUIRE_MESSAGE(first.ok(), first.status().text());
  CHECK(*first == Ensured::created);

  auto second = bus::ensure_stream(js.raw(), spec);
  REQUIRE_MESSAGE(second.ok(), second.status().text());
  CHECK(*second == Ensured::unchanged);

  spec.max_bytes = 128 * 1024 * 1024;
  spec.discard = bus::Discard::old_messages;
  spec.subjects = {"weir.demo.>", "weir.demo_extra.>"};
  auto third = bus::ensure_stream(js.raw(), spec);
  REQUIRE_MESSAGE(third.ok(), third.status().text());
  CHECK(*third == Ensured::updated);
  auto fourth = bus::ensure_stream(js.raw(), spec);
  REQUIRE(fourth.ok());
  CHECK(*fourth == Ensured::unchanged);
}

TEST_CASE_FIXTURE(testing::BusFixture, "a stream change the server refuses is a clear error") {
  auto spec = flow_stream();
  REQUIRE(bus::ensure_stream(js.raw(), spec).ok());
  spec.retention = bus::Retention::workqueue;  // nats-server 2.9 cannot change retention
  auto r = bus::ensure_stream(js.raw(), spec);
  REQUIRE_FALSE(r.ok());
  MESSAGE(r.status().text());
  CHECK(r.status().text().find("WEIR_DEMO") != std::string::npos);
  CHECK(r.status().text().find("refused") != std::string::npos);
  CHECK(r.status().js_code() != 0);
}

TEST_CASE_FIXTURE(testing::BusFixture, "ensure_stream rejects a spec without subjects") {
  bus::StreamSpec spec;
  spec.name = "EMPTY";
  CHECK_FALSE(bus::ensure_stream(js.raw(), spec).ok());
}

TEST_CASE_FIXTURE(testing::BusFixture, "ensure_consumer creates, is idempotent, updates, and deletes") {
  REQUIRE(bus::ensure_stream(js.raw(), flow_stream()).ok());
  bus::ConsumerSpec c;
  c.durable = "shape__in";
  c.filter_subject = "weir.demo.hot.out";
  c.ack_wait = std::chrono::seconds(5);
  c.max_ack_pending = 512;
  c.max_deliver = 5;

  auto first = bus::ensure_consumer(js.raw(), "WEIR_DEMO", c);
  REQUIRE_MESSAGE(first.ok(), first.status().text());
  CHECK(*first == Ensured::created);
  auto second = bus::ensure_consumer(js.raw(), "WEIR_DEMO", c);
  REQUIRE_MESSAGE(second.ok(), second.status().text());
  CHECK(*second == Ensured::unchanged);

  c.ack_wait = std::chrono::seconds(10);
  c.max_ack_pending = 1024;
  c.max_deliver = -1;
  auto third = bus::ensure_consumer(js.raw(), "WEIR_DEMO", c);
  REQUIRE_MESSAGE(third.ok(), third.status().text());
  CHECK(*third == Ensured::updated);
  auto fourth = bus::ensure_consumer(js.raw(), "WEIR_DEMO", c);
  REQUIRE(fourth.ok());
  CHECK(*fourth == Ensured::unchanged);

  auto info = bus::consumer_info(js.raw(), "WEIR_DEMO", "shape__in");
  REQUIRE(info.ok());
  CHECK(info->num_pending == 0);
  CHECK(info->num_ack_pending == 0);

  REQUIRE(bus::delete_consumer(js.raw(), "WEIR_DEMO", "shape__in").ok());
  auto gone = bus::consumer_info(js.raw(), "WEIR_DEMO", "shape__in");
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().is_not_found());
}

TEST_CASE_FIXTURE(testing::BusFixture, "consumer and stream errors name what was missing") {
  bus::ConsumerSpec c;
  c.durable = "d";
  c.filter_subject = "x.y";
  auto r = bus::ensure_consumer(js.raw(), "NO_SUCH_STREAM", c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().text().find("NO_SUCH_STREAM") != std::string::npos);

  auto info = bus::stream_info(js.raw(), "NO_SUCH_STREAM");
  REQUIRE_FALSE(info.ok());
  CHECK(info.status().is_not_found());
}

TEST_CASE_FIXTURE(testing::BusFixture, "stream_info reports messages, bytes and sequences") {
  make_stream();
  CHECK(stream_messages() == 0);
  bus::JetStream pub = make_js();
  for (int i = 0; i < 3; ++i)
    REQUIRE(js_Publish(nullptr, pub.raw(), "s.x", "hello", 5, nullptr, nullptr) == NATS_OK);
  auto info = bus::stream_info(js.raw(), "S");
  REQUIRE(info.ok());
  CHECK(info->messages == 3);
  CHECK(info->first_seq == 1);
  CHECK(info->last_seq == 3);
  CHECK(info->bytes > 15);
  REQUIRE(bus::delete_stream(js.raw(), "S").ok());
  CHECK_FALSE(bus::stream_info(js.raw(), "S").ok());
}

TEST_CASE_FIXTURE(
    testing::BusFixture,
    "server defaults stay idempotent, and lowering max_age below the default duplicate window works") {
  bus::StreamSpec s;
  s.name = "DEFAULTS";
  s.subjects = {"d.>"};
  s.max_bytes = 0;     // stored as -1
  s.max_msg_size = 0;  // stored as -1
  REQUIRE(bus::ensure_stream(js.raw(), s).ok());
  auto again = bus::ensure_stream(js.raw(), s);
  REQUIRE(again.ok());
  CHECK(*again == Ensured::unchanged);

  s.max_age = std::chrono::seconds(30);  // below the 2 minute default duplicate window
  auto lowered = bus::ensure_stream(js.raw(), s);
  REQUIRE_MESSAGE(lowered.ok(), lowered.status().text());
  CHECK(*lowered == Ensured::updated);
  CHECK(*bus::ensure_stream(js.raw(), s) == Ensured::unchanged);

  bus::ConsumerSpec c;
  c.durable = "dflt";
  c.filter_subject = "d.a";
  c.ack_wait = std::chrono::nanoseconds(0);
  c.max_ack_pending = 0;
  c.max_deliver = 0;
  REQUIRE(bus::ensure_consumer(js.raw(), "DEFAULTS", c).ok());
  auto same = bus::ensure_consumer(js.raw(), "DEFAULTS", c);
  REQUIRE(same.ok());
  CHECK(*same == Ensured::unchanged);

  c.filter_subject = "d.b";  // nats-server 2.9.10 accepts a filter change on a durable
  auto refiltered = bus::ensure_consumer(js.raw(), "DEFAULTS", c);
  REQUIRE_MESSAGE(refiltered.ok(), refiltered.status().text());
  CHECK(*refiltered == Ensured::updated);
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "a consumer filter outside the stream's subjects is refused with the server's reason") {
  REQUIRE(bus::ensure_stream(js.raw(), flow_stream()).ok());
  bus::ConsumerSpec c;
  c.durable = "lost";
  c.filter_subject = "elsewhere.x";
  auto r = bus::ensure_consumer(js.raw(), "WEIR_DEMO", c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().text().find("filter subject") != std::string::npos);
}
