#include <doctest/doctest.h>

#include "bus/connection.hpp"
#include "bus/core_subscription.hpp"
#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "nats_output/nats_output.hpp"
#include "runtime/component_nats.hpp"
#include "sdk/base/json_write.hpp"
#include "support/component_testing.hpp"
#include "support/nats_fixture.hpp"

using namespace weir;
using namespace std::chrono_literals;
using testing::metric;
using testing::parse_config;

namespace {

// A real nats-server with a connection, a JetStream context and, on demand, a stream OUT on
// "out.>" with a one-minute duplicate window.
struct Env : testing::BusFixture {
  void make_stream(std::int32_t max_msg_size = -1, std::chrono::nanoseconds window = 1min) {
    bus::StreamSpec spec;
    spec.name = "OUT";
    spec.subjects = {"out.>"};
    spec.retention = bus::Retention::limits;
    spec.duplicate_window = window;
    spec.max_msg_size = max_msg_size;
    auto r = bus::ensure_stream(js.raw(), spec);
    REQUIRE_MESSAGE(r.ok(), r.status().text());
  }

  std::uint64_t stored() {
    auto info = bus::stream_info(js.raw(), "OUT");
    REQUIRE_MESSAGE(info.ok(), info.status().text());
    return info->messages;
  }

  struct Stored {
    std::string msg_id;
    std::string source;  // the "source" header
    std::string payload;
  };

  // The messages the stream holds on `subject`, read through a durable made for the check.
  std::vector<Stored> read_all(const std::string& subject, std::size_t n) {
    bus::ConsumerSpec spec;
    spec.durable = "check";
    spec.filter_subject = subject;
    auto e = bus::ensure_consumer(js.raw(), "OUT", spec);
    REQUIRE_MESSAGE(e.ok(), e.status().text());
    auto c = bus::PullConsumer::bind(js.raw(), "OUT", "check");
    REQUIRE_MESSAGE(c.ok(), c.status().text());
    std::vector<bus::Msg> out;
    testing::wait_until(
        [&] {
          (void)c->fetch(static_cast<int>(n), 200ms, out);
          return out.size() >= n;
        },
        5s);
    std::vector<Stored> copies;
    for (auto& m : out) {
      copies.push_back({m.msg_id(), std::string(m.header("source").value_or("")), std::string(m.view())});
      (void)m.ack();
    }
    return copies;  // the messages go before the subscription they came from
  }

  runtime::ComponentNats nats{*conn};  // what the engine gives components
  sdk::Context ctx(const std::string& id) { return {"test", id, sdk::Log("test", id), &nats, {}}; }
};

std::vector<sdk::Record> records(std::size_t n) {
  std::vector<sdk::Record> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(testing::rec(R"({"n": )" + std::to_string(i) + R"(, "t": 21.5})", "r" + std::to_string(i)));
  return out;
}

}  // namespace

TEST_CASE("nats_output: the README example parses") {
  auto p = parse_config("nats_output", R"({"subject": "hub.readings", "headers": {"source": "site-a"}})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("nats_output: subject is required") {
  auto p = parse_config("nats_output", "{}");
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/subject"));
}

TEST_CASE("nats_output: unknown field and out of range") {
  auto p = parse_config("nats_output", R"({"subject": "a", "header": {}})");
  CHECK(testing::has_diag(p.diags, "unknown_field", "/components/0/config/header"));
  p = parse_config("nats_output", R"({"subject": "a", "ack_timeout": "1ms"})");
  CHECK(testing::has_diag(p.diags, "out_of_range", "/components/0/config/ack_timeout"));
}

TEST_CASE("nats_output: a wildcard or malformed subject is refused by lint") {
  for (const char* s : {"hub.*", "hub.>", ">", "hub..x", "hub x", "hub."}) {
    auto p = parse_config("nats_output", std::string(R"({"subject": ")") + s + "\"}");
    CHECK_MESSAGE(testing::has_diag(p.diags, "invalid_value", "/components/0/config/subject"), s);
  }
}

TEST_CASE("nats_output: Nats-Msg-Id and malformed header names are refused") {
  auto p = parse_config("nats_output", R"({"subject": "a", "headers": {"nats-msg-id": "x"}})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/headers"));
  p = parse_config("nats_output", R"({"subject": "a", "headers": {"a:b": "x"}})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/headers"));
}

TEST_CASE("nats_output: the msg id derives from flow, component and record id") {
  CHECK(components::nats_output::msg_id("site-a", "uplink", "SRC:42") == "site-a.uplink:SRC:42");
}

TEST_CASE("nats_output: writes a batch into a stream; writing it again stores nothing more") {
  Env env;
  env.make_stream();
  auto out = testing::create<sdk::Output>(
      parse_config("nats_output", R"({"subject": "out.data", "headers": {"source": "t"}})"), env.ctx("sink"));
  auto st = out->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  const auto batch = records(10);
  sdk::Rejects rejects;
  st = out->write(batch, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  CHECK(rejects.items.empty());
  CHECK(env.stored() == 10);

  st = out->write(batch, rejects);  // the engine redelivers a batch: same record ids
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  CHECK(env.stored() == 10);

  auto msgs = env.read_all("out.data", 10);
  REQUIRE(msgs.size() == 10);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    CHECK(msgs[i].msg_id == "test.sink:r" + std::to_string(i));
    CHECK(msgs[i].source == "t");
    CHECK(msgs[i].payload == sdk::to_json(batch[i].value));
  }
  CHECK(msgs[0].payload == R"({"n":0,"t":21.5})");
  out->stop();
}

TEST_CASE("nats_output: a record over max_payload is rejected, the rest is written") {
  Env env;
  env.make_stream();
  auto out =
      testing::create<sdk::Output>(parse_config("nats_output", R"({"subject": "out.big"})"), env.ctx("sink"));
  REQUIRE(out->start().is_ok());
  auto batch = records(3);
  batch[1].value = boost::json::string(std::string(2 * 1024 * 1024, 'x'));
  sdk::Rejects rejects;
  auto st = out->write(batch, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  REQUIRE(rejects.items.size() == 1);
  CHECK(rejects.items[0].first == 1);
  CHECK(env.stored() == 2);
  out->stop();
}

TEST_CASE("nats_output: a record that fits max_payload only without its headers is rejected") {
  // The payload is checked before the publish; the headers count too, which the publish finds.
  auto batch = records(3);
  auto check = [&](Env& env, const std::string& subject) {
    auto out = testing::create<sdk::Output>(
        parse_config("nats_output", R"({"subject": ")" + subject + R"(", "headers": {"source": "t"}})"),
        env.ctx("sink"));
    REQUIRE(out->start().is_ok());
    const auto max = natsConnection_GetMaxPayload(env.conn->raw());
    batch[1].value = boost::json::string(std::string(static_cast<std::size_t>(max) - 4, 'x'));  // + 2 quotes
    REQUIRE(sdk::to_json(batch[1].value).size() == static_cast<std::size_t>(max) - 2);
    sdk::Rejects rejects;
    auto st = out->write(batch, rejects);
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    REQUIRE(rejects.items.size() == 1);
    CHECK(rejects.items[0].first == 1);
    CHECK(rejects.items[0].second.find("Maximum Payload") != std::string::npos);
    out->stop();
  };
  SUBCASE("into a stream") {
    Env env;
    env.make_stream();
    check(env, "out.big");
    CHECK(env.stored() == 2);
  }
  SUBCASE("with core NATS") {
    Env env;
    check(env, "plain.big");
  }
}

TEST_CASE("nats_output: a record over the stream's max_msg_size is rejected after its PubAck") {
  Env env;
  env.make_stream(200);
  auto out =
      testing::create<sdk::Output>(parse_config("nats_output", R"({"subject": "out.big"})"), env.ctx("sink"));
  REQUIRE(out->start().is_ok());
  auto batch = records(3);
  batch[2].value = boost::json::string(std::string(300, 'x'));
  sdk::Rejects rejects;
  auto st = out->write(batch, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  REQUIRE(rejects.items.size() == 1);
  CHECK(rejects.items[0].first == 2);
  CHECK(rejects.items[0].second.find("10054") != std::string::npos);
  CHECK(env.stored() == 2);
  out->stop();
}

TEST_CASE("nats_output: a write fails, never half-succeeds, when the stream went away") {
  Env env;
  env.make_stream();
  auto out = testing::create<sdk::Output>(
      parse_config("nats_output", R"({"subject": "out.gone", "ack_timeout": "2s"})"), env.ctx("sink"));
  REQUIRE(out->start().is_ok());
  REQUIRE(bus::delete_stream(env.js.raw(), "OUT").ok());
  sdk::Rejects rejects;
  auto st = out->write(records(3), rejects);
  CHECK_FALSE(st.is_ok());
  CHECK(rejects.items.empty());
  out->stop();
}

TEST_CASE("nats_output: without a stream, a core publish with the same headers") {
  Env env;
  bus::CoreSubscriptionOptions o;
  o.subject = "plain.x";
  auto sub = bus::CoreSubscription::subscribe(env.conn->raw(), o);
  REQUIRE(sub.ok());
  REQUIRE(env.conn->flush(5s).ok());
  auto out =
      testing::create<sdk::Output>(parse_config("nats_output", R"({"subject": "plain.x"})"), env.ctx("sink"));
  REQUIRE(out->start().is_ok());
  sdk::Rejects rejects;
  auto st = out->write(records(3), rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  std::vector<bus::Msg> got;
  testing::wait_until(
      [&] {
        (void)sub->fetch(3, 200ms, got);
        return got.size() >= 3;
      },
      5s);
  REQUIRE(got.size() == 3);
  CHECK(got[2].msg_id() == "test.sink:r2");
  CHECK(got[2].view() == R"({"n":2,"t":21.5})");
  out->stop();
}

TEST_CASE(
    "nats_output: a target stream's duplicate window shorter than a redelivery after a crash is reported") {
  // Starts an output into a stream OUT with `window`, in a flow with `ack_wait`: its two metrics.
  auto check = [](std::chrono::nanoseconds window, std::chrono::nanoseconds ack_wait) {
    Env env;
    env.make_stream(-1, window);
    auto ctx = env.ctx("sink");
    ctx.ack_wait = ack_wait;
    auto out = testing::create<sdk::Output>(parse_config("nats_output", R"({"subject": "out.data"})"), ctx);
    REQUIRE(out->start().is_ok());
    const auto got =
        std::make_pair(metric(*out, "duplicate_window_short"), metric(*out, "duplicate_window_ms"));
    out->stop();
    return got;
  };
  // ack_wait 10 s: a redelivery comes 13.5 s after the restart; with 60 s for the restart, 73.5 s.
  CHECK(check(1min, 10s) == std::make_pair(1.0, 60000.0));
  CHECK(check(2min, 10s) == std::make_pair(0.0, 120000.0));
  // ack_wait 60 s: 60 + 15 + 1 + 60 s is more than 2 min.
  CHECK(check(2min, 60s) == std::make_pair(1.0, 120000.0));
}
