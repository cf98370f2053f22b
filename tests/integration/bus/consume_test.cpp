#include "bus/core_subscription.hpp"
#include "bus/publisher.hpp"
#include "bus/pull_consumer.hpp"
#include "support/nats_fixture.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace weir;
using namespace std::chrono_literals;
using testing::wait_until;

namespace {

void publish_n(const bus::Connection& conn, const std::string& subject, int n,
               const std::string& prefix = "m") {
  auto pub = bus::AsyncPublisher::create(conn);
  REQUIRE(pub.ok());
  for (int i = 0; i < n; ++i)
    REQUIRE((*pub)->publish(subject, prefix + std::to_string(i), prefix + "-" + std::to_string(i)).ok());
  std::vector<bus::PublishFailure> failures;
  const auto st = (*pub)->wait_all(30s, failures);
  REQUIRE_MESSAGE(st.ok(), st.text());
}

bus::PullConsumer bind(jsCtx* js, const std::string& stream, const std::string& durable) {
  auto c = bus::PullConsumer::bind(js, stream, durable);
  REQUIRE_MESSAGE(c.ok(), c.status().text());
  return std::move(c).value();
}

}  // namespace

TEST_CASE_FIXTURE(testing::BusFixture, "fetch and ack everything: ack pending returns to 0") {
  make_stream();
  make_consumer("S", "reader", "s.in");
  publish_n(*conn, "s.in", 1000);
  auto consumer = bind(js.raw(), "S", "reader");

  std::vector<bus::Msg> got;
  std::uint64_t last_seq = 0;
  while (got.size() < 1000) {
    std::vector<bus::Msg> batch;
    const auto st = consumer.fetch(256, 5s, batch);
    REQUIRE_MESSAGE(st.ok(), st.text());
    REQUIRE_FALSE(batch.empty());
    for (auto& m : batch) {
      auto md = m.metadata();
      REQUIRE(md.ok());
      CHECK(md->stream == "S");
      CHECK(md->consumer == "reader");
      CHECK(md->num_delivered == 1);
      CHECK(md->stream_seq > last_seq);
      last_seq = md->stream_seq;
      got.push_back(std::move(m));
    }
  }
  CHECK(got.size() == 1000);
  CHECK(got.front().view() == "m0");
  CHECK(got.back().view() == "m999");

  auto before = bus::consumer_info(js.raw(), "S", "reader");
  REQUIRE(before.ok());
  CHECK(before->num_ack_pending == 1000);

  REQUIRE(bus::ack_all(got).ok());
  CHECK(wait_until(
      [&] {
        auto info = bus::consumer_info(js.raw(), "S", "reader");
        return info.ok() && info->num_ack_pending == 0 && info->num_pending == 0;
      },
      10s));

  std::vector<bus::Msg> none;
  REQUIRE(consumer.fetch(10, 100ms, none).ok());  // a timeout is not an error
  CHECK(none.empty());
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "a bound durable survives destruction of its subscription and keeps its position") {
  make_stream();
  make_consumer("S", "keeper", "s.k");
  publish_n(*conn, "s.k", 10);
  {
    auto consumer = bind(js.raw(), "S", "keeper");
    std::vector<bus::Msg> batch;
    while (batch.size() < 4) REQUIRE(consumer.fetch(4 - static_cast<int>(batch.size()), 5s, batch).ok());
    REQUIRE(bus::ack_all(batch).ok());
    REQUIRE(conn->flush(5s).ok());
  }
  auto info = bus::consumer_info(js.raw(), "S", "keeper");
  REQUIRE_MESSAGE(info.ok(), "the durable was deleted with its subscription: " << info.status().text());
  CHECK(info->num_pending == 6);

  auto again = bind(js.raw(), "S", "keeper");
  std::vector<bus::Msg> rest;
  while (rest.size() < 6) REQUIRE(again.fetch(10, 5s, rest).ok());
  CHECK(rest.front().view() == "m4");
  CHECK(rest.back().view() == "m9");
}

TEST_CASE_FIXTURE(
    testing::BusFixture,
    "a message that arrives alone is fetched alone: it waits neither for the batch nor the timeout") {
  make_stream();
  make_consumer("S", "alone", "s.a");
  auto consumer = bind(js.raw(), "S", "alone");
  // A stage reads through fetch(): a record arriving alone at a low rate must not wait there for
  // the rest of a batch or for the timeout.
  std::vector<bus::Msg> batch;
  std::thread late([this] {
    std::this_thread::sleep_for(300ms);
    publish_n(*conn, "s.a", 1, "late");
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto st = consumer.fetch(8, 20s, batch);
  const auto waited = std::chrono::steady_clock::now() - t0;
  late.join();
  REQUIRE_MESSAGE(st.ok(), st.text());
  REQUIRE(batch.size() == 1);
  CHECK(batch.front().view() == "late0");
  CHECK_MESSAGE(waited < 10s, "the fetch waited for its timeout");
  // What is stored when the fetch starts comes at once, up to the batch.
  publish_n(*conn, "s.a", 20, "more");
  batch.clear();
  REQUIRE(consumer.fetch(8, 20s, batch).ok());
  CHECK(batch.size() == 8);
  // Nothing stored and nothing coming: an empty result at the timeout, not an error.
  REQUIRE(bus::ack_all(batch).ok());
  std::vector<bus::Msg> rest;
  while (rest.size() < 12) REQUIRE(consumer.fetch(8, 5s, rest).ok());
  CHECK(rest.size() == 12);
  std::vector<bus::Msg> none;
  CHECK(consumer.fetch(8, 300ms, none).ok());
  CHECK(none.empty());
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "messages queued before a fetch (late deliveries) come out whole, none lost, none twice") {
  // nats.c 3.4 wrote past the end of a fetch's array when messages already queued on the
  // subscription made up more than half of its batch and more kept arriving (ASan saw it in the
  // bridge test). Queue them here with pull requests of our own, as a fetch that timed out leaves
  // them, and keep a second request open so that more arrive during the fetch.
  make_stream();
  make_consumer("S", "late", "s.l");
  publish_n(*conn, "s.l", 10, "a");
  auto consumer = bind(js.raw(), "S", "late");
  const char* inbox = natsSubscription_GetSubject(consumer.raw());
  REQUIRE(inbox != nullptr);
  const char* next = "$JS.API.CONSUMER.MSG.NEXT.S.late";
  // Ten delivered at once and queued, unasked for by any fetch...
  REQUIRE(natsConnection_PublishRequestString(conn->raw(), next, inbox, R"({"batch":10})") == NATS_OK);
  REQUIRE(conn->flush(5s).ok());
  REQUIRE(wait_until(
      [&] {
        int queued = 0;
        natsSubscription_GetPending(consumer.raw(), &queued, nullptr);
        return queued >= 10;
      },
      10s, 10ms));
  // ...and a request still open, served by what is published while the first fetch waits.
  REQUIRE(natsConnection_PublishRequestString(conn->raw(), next, inbox,
                                              R"({"batch":40,"expires":5000000000})") == NATS_OK);
  REQUIRE(conn->flush(5s).ok());
  std::thread more([this] {
    std::this_thread::sleep_for(300ms);
    publish_n(*conn, "s.l", 90, "b");
  });
  std::set<std::string> seen;
  int fetches = 0;
  while (seen.size() < 100 && fetches < 200) {
    std::vector<bus::Msg> batch;
    REQUIRE(consumer.fetch(13, 2s, batch).ok());
    CHECK(batch.size() <= 13);
    ++fetches;
    for (auto& m : batch) CHECK_MESSAGE(seen.insert(std::string(m.view())).second, m.view());
    REQUIRE(bus::ack_all(batch).ok());
  }
  more.join();
  CHECK(seen.size() == 100);
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "nats.c pitfall: a durable that js_PullSubscribe created dies with Unsubscribe") {
  // Documents why PullConsumer only binds (DESIGN §8); if nats.c changes, this tells us.
  make_stream();
  natsSubscription* sub = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = "S";
  REQUIRE(js_PullSubscribe(&sub, js.raw(), "s.p", "created_by_lib", nullptr, &so, nullptr) == NATS_OK);
  REQUIRE(bus::consumer_info(js.raw(), "S", "created_by_lib").ok());
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  CHECK_FALSE(bus::consumer_info(js.raw(), "S", "created_by_lib").ok());
}

TEST_CASE_FIXTURE(testing::BusFixture,
                  "binding to a consumer that does not exist fails and creates nothing") {
  make_stream();
  auto c = bus::PullConsumer::bind(js.raw(), "S", "ghost");
  REQUIRE_FALSE(c.ok());
  MESSAGE(c.status().text());
  CHECK(c.status().text().find("ghost") != std::string::npos);
  CHECK_FALSE(bus::consumer_info(js.raw(), "S", "ghost").ok());
}

TEST_CASE_FIXTURE(testing::BusFixture, "nak redelivers at once; term stops redelivery") {
  make_stream();
  make_consumer("S", "nakker", "s.n");
  publish_n(*conn, "s.n", 2);
  auto consumer = bind(js.raw(), "S", "nakker");
  std::vector<bus::Msg> first;
  while (first.size() < 2) REQUIRE(consumer.fetch(2, 5s, first).ok());
  REQUIRE(first[0].nak().ok());
  REQUIRE(first[1].term().ok());

  std::vector<bus::Msg> again;
  while (again.empty()) REQUIRE(consumer.fetch(2, 5s, again).ok());
  REQUIRE(again.size() == 1);
  CHECK(again[0].view() == "m0");
  auto md = again[0].metadata();
  REQUIRE(md.ok());
  CHECK(md->num_delivered == 2);
  REQUIRE(again[0].in_progress().ok());
  REQUIRE(again[0].ack().ok());
  CHECK(wait_until(
      [&] {
        auto info = bus::consumer_info(js.raw(), "S", "nakker");
        return info.ok() && info->num_ack_pending == 0;
      },
      10s));
}

TEST_CASE_FIXTURE(testing::BusFixture, "a core subscription queues up to its limit and counts the drops") {
  bus::CoreSubscriptionOptions o;
  o.subject = "ext.sensors";
  o.max_pending_msgs = 10;
  auto sub = bus::CoreSubscription::subscribe(conn->raw(), o);
  REQUIRE_MESSAGE(sub.ok(), sub.status().text());
  REQUIRE(conn->flush(5s).ok());  // the server knows the subscription before we publish
  for (int i = 0; i < 100; ++i)
    REQUIRE(natsConnection_PublishString(conn->raw(), "ext.sensors", std::to_string(i).c_str()) == NATS_OK);
  // The flush's PONG arrives after the 100 messages on the same connection: all are handled.
  REQUIRE(conn->flush(5s).ok());
  std::vector<bus::Msg> got;
  REQUIRE(sub->fetch(1000, 100ms, got).ok());
  CHECK(got.size() == 10);
  CHECK(sub->dropped() == 90);
  CHECK(got.front().view() == "0");

  std::vector<bus::Msg> more;
  REQUIRE(natsConnection_PublishString(conn->raw(), "ext.sensors", "late") == NATS_OK);
  REQUIRE(sub->fetch(5, 5s, more).ok());
  REQUIRE(more.size() == 1);
  CHECK(more[0].view() == "late");
}

TEST_CASE_FIXTURE(testing::BusFixture, "a bound pull consumer keeps working across a server restart") {
  make_stream();
  make_consumer("S", "survivor", "s.r");
  publish_n(*conn, "s.r", 10);
  auto consumer = bind(js.raw(), "S", "survivor");
  std::vector<bus::Msg> first;
  while (first.size() < 5) REQUIRE(consumer.fetch(5 - static_cast<int>(first.size()), 5s, first).ok());
  REQUIRE(bus::ack_all(first).ok());
  REQUIRE(conn->flush(5s).ok());  // the acks reach the server before it goes away

  server.stop();
  REQUIRE(wait_until([&] { return conn->state() == bus::ConnState::reconnecting; }, 10s));
  std::vector<bus::Msg> during;
  const auto st = consumer.fetch(5, 200ms, during);  // must return, error or not, without messages
  MESSAGE("fetch while the server is down: " << (st.ok() ? std::string("ok") : st.text()));
  CHECK(during.empty());

  server.start();
  REQUIRE(wait_until([&] { return conn->connected(); }, 20s));
  std::vector<bus::Msg> rest;
  REQUIRE(wait_until(
      [&] {
        (void)consumer.fetch(10, 1s, rest);
        return rest.size() >= 5;
      },
      30s, 1ms));
  CHECK(rest.size() == 5);
  CHECK(rest.front().view() == "m5");
  REQUIRE(bus::ack_all(rest).ok());
  CHECK(wait_until(
      [&] {
        auto info = bus::consumer_info(js.raw(), "S", "survivor");
        return info.ok() && info->num_ack_pending == 0 && info->num_pending == 0;
      },
      10s));
}

// After a crash, nats-server hands the redelivered messages out in no particular order (seen: the
// later half of a fetch round first); a reader that tracks what it stored by a high-water mark
// per source would drop the lower ones as replays. bus::InOrder gathers and sorts them.
TEST_CASE_FIXTURE(testing::BusFixture,
                  "InOrder: redeliveries held until all are in, then handed over sorted") {
  make_stream();
  make_consumer("S", "sorted", "s.in");
  publish_n(*conn, "s.in", 8);
  auto consumer = bind(js.raw(), "S", "sorted");
  std::vector<bus::Msg> got;
  while (got.size() < 8) REQUIRE(consumer.fetch(8, 5s, got).ok());
  auto seqs = [](const std::vector<bus::Msg>& v) {
    std::vector<std::uint64_t> out;
    for (const auto& m : v) out.push_back(m.metadata()->stream_seq);
    return out;
  };
  REQUIRE(seqs(got) == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  auto take = [&](std::initializer_list<std::size_t> idx) {
    std::vector<bus::Msg> out;
    for (auto i : idx) out.push_back(std::move(got[i]));
    return out;
  };

  bus::InOrder in_order;
  std::vector<bus::Msg> ready;
  in_order.expect(4, 60s);
  CHECK(in_order.want(2) == 4);  // asks for all of them at once
  auto first = take({2, 3});     // seqs 3, 4: the later ones first
  CHECK_FALSE(in_order.add(first, ready));
  CHECK(ready.empty());
  CHECK(in_order.want(2) == 2);
  auto second = take({4, 0, 1});  // 5 (new), 1, 2
  REQUIRE(in_order.add(second, ready));
  CHECK(seqs(ready) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  ready.clear();
  auto third = take({6, 5});  // then each fetch on its own, sorted
  REQUIRE(in_order.add(third, ready));
  CHECK(seqs(ready) == std::vector<std::uint64_t>{6, 7});
  CHECK(in_order.want(8) == 8);

  // Redeliveries that never come (acked at the last moment by the killed run) are not waited
  // for past the patience.
  ready.clear();
  in_order.expect(100, 0s);
  auto last = take({7});
  REQUIRE(in_order.add(last, ready));
  CHECK(seqs(ready) == std::vector<std::uint64_t>{8});
  std::vector<bus::Msg> none;
  ready.clear();
  CHECK_FALSE(in_order.add(none, ready));
}
