#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "bus/connection.hpp"
#include "bus/publisher.hpp"
#include "bus/topology.hpp"
#include "nats_input/nats_input.hpp"
#include "runtime/component_nats.hpp"
#include "support/component_testing.hpp"
#include "support/nats_fixture.hpp"

using namespace weir;
using namespace std::chrono_literals;
using testing::parse_config;

namespace {

// Keeps every on_durable until the test runs it, as the engine does until its batch's PubAck.
// Stops once it holds `want` records or at the deadline, so a broken input cannot hang a test.
struct DeferringSink : sdk::InputSink {
  explicit DeferringSink(std::size_t want_records) : want(want_records) {}
  std::size_t want;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() + 10s;
  std::vector<sdk::Record> pushed;
  std::vector<std::pair<sdk::Record, std::string>> failed;
  std::vector<std::function<void()>> callbacks;
  std::size_t flushes = 0;

  bool push(sdk::Record&& rec, std::function<void()> on_durable) override {
    if (stopping()) return false;
    pushed.push_back(std::move(rec));
    if (on_durable) callbacks.push_back(std::move(on_durable));
    return true;
  }
  bool fail(sdk::Record&& rec, std::string_view reason, std::function<void()> on_durable) override {
    if (stopping()) return false;
    failed.emplace_back(std::move(rec), std::string(reason));
    if (on_durable) callbacks.push_back(std::move(on_durable));
    return true;
  }
  bool push_batch(sdk::Batch&&, std::function<void()>) override { return false; }  // not used
  void flush() override { ++flushes; }
  bool stopping() const override {
    return pushed.size() + failed.size() >= want || std::chrono::steady_clock::now() >= deadline;
  }
  bool sleep_for(std::chrono::nanoseconds d) override {
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(d, 10ms));
    return !stopping();
  }
  void run_callbacks() {
    for (auto& cb : callbacks) cb();
  }
};

// A real nats-server with a connection, a JetStream context and a stream SRC on "src.>".
struct Env : testing::BusFixture {
  void make_stream() {
    bus::StreamSpec spec;
    spec.name = "SRC";
    spec.subjects = {"src.>"};
    spec.retention = bus::Retention::limits;
    auto r = bus::ensure_stream(js.raw(), spec);
    REQUIRE_MESSAGE(r.ok(), r.status().text());
  }

  void publish(const std::string& subject, const std::vector<std::string>& payloads) {
    auto pub = bus::AsyncPublisher::create(*conn);
    REQUIRE_MESSAGE(pub.ok(), pub.status().text());
    for (const auto& p : payloads) REQUIRE((*pub)->publish(subject, p).ok());
    std::vector<bus::PublishFailure> failures;
    auto st = (*pub)->wait_all(5s, failures);
    REQUIRE_MESSAGE(st.ok(), st.text());
  }

  bus::ConsumerState consumer(const std::string& durable) {
    auto info = bus::consumer_info(js.raw(), "SRC", durable);
    REQUIRE_MESSAGE(info.ok(), info.status().text());
    return info.value();
  }

  runtime::ComponentNats nats{*conn};  // what the engine gives components
  sdk::Context ctx(const std::string& id) { return {"test", id, sdk::Log("test", id), &nats, {}}; }
};

// Runs the input on its own thread, as the engine does, until the sink stops it.
void run(sdk::Input& in, sdk::InputSink& sink) {
  std::thread t([&] { in.run(sink); });
  t.join();
}

}  // namespace

TEST_CASE("nats_input: the README example parses") {
  auto p = parse_config("nats_input", R"({"subject": "sensors.>", "stream": "SENSORS", "ack_wait": "10s"})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
  auto core = parse_config("nats_input", R"({"subject": "sensors.>", "content": "text"})");
  CHECK_MESSAGE(core.diags.empty(), testing::dump(core.diags));
}

TEST_CASE("nats_input: subject is required and not empty") {
  CHECK(testing::has_diag(parse_config("nats_input", "{}").diags, "missing_field",
                          "/components/0/config/subject"));
  CHECK(testing::has_diag(parse_config("nats_input", R"({"subject": ""})").diags, "invalid_value",
                          "/components/0/config/subject"));
}

TEST_CASE("nats_input: unknown field, out of range, durable without stream") {
  auto p = parse_config("nats_input", R"({"subject": "a", "strem": "S"})");
  CHECK(testing::has_diag(p.diags, "unknown_field", "/components/0/config/strem"));
  p = parse_config("nats_input", R"({"subject": "a", "stream": "S", "fetch_batch": 0})");
  CHECK(testing::has_diag(p.diags, "out_of_range", "/components/0/config/fetch_batch"));
  p = parse_config("nats_input", R"({"subject": "a", "durable": "d"})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/durable"));
  p = parse_config("nats_input", R"({"subject": "a", "stream": "S.1"})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/stream"));
}

TEST_CASE("nats_input: the default durable name is safe for a consumer") {
  CHECK(components::nats_input::default_durable("my flow", "in.a>") == "weir_my_flow_in_a_");
  CHECK(components::nats_input::default_durable("f", "c-1") == "weir_f_c-1");
}

TEST_CASE("nats_input: reads a stream with origin ids, acks only once the records are durable") {
  Env env;
  env.make_stream();
  env.publish("src.a", {R"({"n":1})", R"({"n":2})", R"({"n":3})", R"({"n":4})", R"({"n":5})"});
  auto in = testing::create<sdk::Input>(
      parse_config("nats_input", R"({"subject": "src.>", "stream": "SRC"})"), env.ctx("reader"));
  auto st = in->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  DeferringSink sink(5);
  run(*in, sink);
  REQUIRE(sink.pushed.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(sink.pushed[i].id == "SRC:" + std::to_string(i + 1));
    CHECK(sink.pushed[i].value.at("n").as_int64() == static_cast<std::int64_t>(i + 1));
  }
  CHECK(sink.failed.empty());
  CHECK(sink.flushes >= 1);
  REQUIRE(sink.callbacks.size() == 5);

  // Delivered, not acked: the engine has not confirmed the records yet.
  auto before = env.consumer("weir_test_reader");
  CHECK(before.num_ack_pending == 5);
  CHECK(before.ack_floor_stream_seq == 0);

  sink.run_callbacks();
  CHECK(testing::wait_until([&] { return env.consumer("weir_test_reader").ack_floor_stream_seq == 5; }, 5s));
  CHECK(env.consumer("weir_test_reader").num_ack_pending == 0);
  in->stop();
}

TEST_CASE("nats_input: invalid JSON goes to fail() with the payload, and is acked the same way") {
  Env env;
  env.make_stream();
  env.publish("src.b", {R"({"ok":1})", "not json", R"({"ok":2})"});
  auto in = testing::create<sdk::Input>(
      parse_config("nats_input", R"({"subject": "src.b", "stream": "SRC"})"), env.ctx("reader"));
  REQUIRE(in->start().is_ok());
  DeferringSink sink(3);
  run(*in, sink);
  REQUIRE(sink.pushed.size() == 2);
  CHECK(sink.pushed[0].id == "SRC:1");
  CHECK(sink.pushed[1].id == "SRC:3");
  REQUIRE(sink.failed.size() == 1);
  CHECK(sink.failed[0].first.id == "SRC:2");
  CHECK(sink.failed[0].first.value == boost::json::value("not json"));
  CHECK(sink.failed[0].second.rfind("invalid JSON", 0) == 0);
  REQUIRE(sink.callbacks.size() == 3);
  CHECK(env.consumer("weir_test_reader").num_ack_pending == 3);
  sink.run_callbacks();
  CHECK(testing::wait_until([&] { return env.consumer("weir_test_reader").ack_floor_stream_seq == 3; }, 5s));
  in->stop();
}

TEST_CASE(
    "nats_input: a number beyond a double, deep nesting and binary bytes go to fail() with a reason, as "
    "valid JSON") {
  Env env;
  env.make_stream();
  const std::string binary("\xFF\x00\x1B", 3);
  env.publish("src.c", {R"({"v": 1e999})", std::string(10000, '['), binary, R"({"ok":1})"});
  // Read twice: as JSON, then as text.
  auto read = [&](const std::string& content, const std::string& reader, DeferringSink& sink) {
    auto in = testing::create<sdk::Input>(
        parse_config("nats_input", R"({"subject": "src.c", "stream": "SRC", "content": ")" + content + "\"}"),
        env.ctx(reader));
    REQUIRE(in->start().is_ok());
    run(*in, sink);
    sink.run_callbacks();
    in->stop();
  };
  DeferringSink sink(4);
  read("json", "reader", sink);
  REQUIRE(sink.pushed.size() == 1);
  REQUIRE(sink.failed.size() == 3);
  CHECK(sink.failed[0].second.find("number out of range of a double at \"/v\"") != std::string::npos);
  CHECK(sink.failed[0].first.value == boost::json::value(R"({"v": 1e999})"));
  CHECK(sink.failed[1].second == "invalid JSON: nesting deeper than 64 levels");
  CHECK(sink.failed[2].first.value.at("raw_base64") == boost::json::value("/wAb"));

  // With content text, bytes that are not UTF-8 cannot be a JSON string: fail() with the bytes.
  DeferringSink text_sink(4);
  read("text", "text_reader", text_sink);
  CHECK(text_sink.pushed.size() == 3);
  REQUIRE(text_sink.failed.size() == 1);
  CHECK(text_sink.failed[0].second == "not UTF-8 text");
  CHECK(text_sink.failed[0].first.value.at("raw_base64") == boost::json::value("/wAb"));
}

TEST_CASE("nats_input: content text takes the payload as a string; a custom durable is used") {
  Env env;
  env.make_stream();
  env.publish("src.c", {"hello", "{\"a\":1}"});
  auto in = testing::create<sdk::Input>(
      parse_config("nats_input",
                   R"({"subject": "src.c", "stream": "SRC", "durable": "mine", "content": "text"})"),
      env.ctx("reader"));
  REQUIRE(in->start().is_ok());
  DeferringSink sink(2);
  run(*in, sink);
  REQUIRE(sink.pushed.size() == 2);
  CHECK(sink.pushed[0].value == boost::json::value("hello"));
  CHECK(sink.pushed[1].value == boost::json::value("{\"a\":1}"));
  CHECK(env.consumer("mine").num_ack_pending == 2);
  sink.run_callbacks();
  in->stop();
}

TEST_CASE("nats_input: a record never confirmed is redelivered with the same origin id") {
  Env env;
  env.make_stream();
  env.publish("src.d", {"1", "2", "3"});
  const auto cfg = parse_config("nats_input", R"({"subject": "src.d", "stream": "SRC", "ack_wait": "1s"})");
  {
    auto in = testing::create<sdk::Input>(cfg, env.ctx("reader"));
    REQUIRE(in->start().is_ok());
    DeferringSink sink(3);
    run(*in, sink);
    REQUIRE(sink.pushed.size() == 3);
    in->stop();
  }  // the callbacks die unrun: the engine's publish never got its PubAck
  auto in = testing::create<sdk::Input>(cfg, env.ctx("reader"));
  REQUIRE(in->start().is_ok());
  DeferringSink sink(3);
  run(*in, sink);
  REQUIRE(sink.pushed.size() == 3);
  CHECK(sink.pushed[0].id == "SRC:1");
  CHECK(sink.pushed[2].id == "SRC:3");
  sink.run_callbacks();
  CHECK(testing::wait_until([&] { return env.consumer("weir_test_reader").ack_floor_stream_seq == 3; }, 5s));
  in->stop();
}

TEST_CASE("nats_input: start fails clearly when the stream does not exist") {
  Env env;
  auto in = testing::create<sdk::Input>(parse_config("nats_input", R"({"subject": "x.y", "stream": "NOPE"})"),
                                        env.ctx("reader"));
  auto st = in->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("stream \"NOPE\" does not exist") != std::string::npos);
}

TEST_CASE("nats_input: without a stream, a core subscription with per-run ids") {
  Env env;
  auto in =
      testing::create<sdk::Input>(parse_config("nats_input", R"({"subject": "core.>"})"), env.ctx("reader"));
  REQUIRE(in->start().is_ok());
  for (const char* p : {R"({"v":1})", R"({"v":2})", "oops"})
    REQUIRE(natsConnection_PublishString(env.conn->raw(), "core.x", p) == NATS_OK);
  REQUIRE(env.conn->flush(5s).ok());
  DeferringSink sink(3);
  run(*in, sink);
  REQUIRE(sink.pushed.size() == 2);
  REQUIRE(sink.failed.size() == 1);
  CHECK(sink.callbacks.empty());  // at-most-once: nothing to ack
  const auto& a = sink.pushed[0].id;
  const auto& b = sink.pushed[1].id;
  CHECK(a.rfind("core.>:", 0) == 0);
  CHECK(a != b);
  CHECK(a.substr(0, a.rfind('-')) == b.substr(0, b.rfind('-')));  // same run prefix
  CHECK(sink.pushed[1].value.at("v").as_int64() == 2);
  in->stop();
}

TEST_CASE("nats_input: run() returns promptly once the sink stops, with nothing to read") {
  Env env;
  env.make_stream();
  auto in = testing::create<sdk::Input>(
      parse_config("nats_input", R"({"subject": "src.idle", "stream": "SRC"})"), env.ctx("reader"));
  REQUIRE(in->start().is_ok());
  DeferringSink sink(1);
  sink.deadline = std::chrono::steady_clock::now() + 200ms;
  const auto t0 = std::chrono::steady_clock::now();
  run(*in, sink);
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);  // one bounded fetch past the stop
  CHECK(sink.pushed.empty());
  in->stop();
}

TEST_CASE("nats_input: start fails with the server's reason for a subject outside the stream") {
  Env env;
  env.make_stream();
  auto in = testing::create<sdk::Input>(
      parse_config("nats_input", R"({"subject": "other.x", "stream": "SRC"})"), env.ctx("reader"));
  auto st = in->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("not a valid subset") != std::string::npos);
}
