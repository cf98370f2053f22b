// http_input against real HTTP on loopback: a raw client (so that headers, content types and a
// dropped response are the test's to choose) and sinks that hold or replay what the engine would.
#include <doctest/doctest.h>

#include "http_input/http_input.hpp"

#include <sys/resource.h>

#include <boost/asio/ssl/stream.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "common/websocket/tls_context.hpp"
#include "support/component_testing.hpp"
#include "support/free_port.hpp"
#include "support/nats_harness.hpp"  // wait_until
#include "support/raw_http.hpp"
#include "support/test_pki.hpp"

using namespace weir;
using namespace std::chrono_literals;
using weir::components::http_input::KeyLog;

namespace {

using Reply = testing::RawReply;

Reply post(std::uint16_t port, const std::string& body, const std::vector<std::string>& headers = {},
           const std::string& target = "/", const std::string& method = "POST", bool read = true) {
  return testing::raw_request(port, body, headers, target, method, read);
}

// What the engine's input stage does with positions: a position this source stored is a replay
// (its callback runs, nothing is stored). Callbacks may be held back (a slow stream).
struct EngineSink : sdk::InputSink {
  std::mutex mu;
  std::vector<sdk::Record> stored;
  std::map<std::string, std::set<std::uint64_t>> positions;
  std::vector<std::function<void()>> held;
  std::atomic<bool> hold{false}, stop{false};
  std::size_t replays = 0;

  void done(std::function<void()> cb) {
    if (!cb) return;
    if (hold) {
      std::lock_guard l(mu);
      held.push_back(std::move(cb));
      return;
    }
    cb();
  }
  void release() {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard l(mu);
      cbs.swap(held);
    }
    hold = false;
    for (auto& c : cbs) c();
  }
  bool push(sdk::Record&& rec, std::function<void()> cb) override {
    if (stop) return false;
    {
      std::lock_guard l(mu);
      stored.push_back(std::move(rec));
    }
    done(std::move(cb));
    return true;
  }
  bool push_at(const sdk::Position& at, sdk::Record&& rec, std::function<void()> cb) override {
    if (stop) return false;
    {
      std::lock_guard l(mu);
      if (!positions[std::string(at.source)].insert(at.seq).second) {
        ++replays;
      } else {
        stored.push_back(std::move(rec));
      }
    }
    done(std::move(cb));
    return true;
  }
  bool fail(sdk::Record&&, std::string_view, std::function<void()> cb) override {
    done(std::move(cb));
    return true;
  }
  bool push_batch(sdk::Batch&&, std::function<void()> cb) override {
    done(std::move(cb));
    return true;
  }
  void flush() override {}
  bool stopping() const override { return stop; }
  bool sleep_for(std::chrono::nanoseconds) override { return !stop; }
  std::size_t count() {
    std::lock_guard l(mu);
    return stored.size();
  }
  std::size_t held_count() {
    std::lock_guard l(mu);
    return held.size();
  }
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("weir-http-input-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// An http_input on a free port, its run() on a thread, feeding `sink`.
struct Running {
  std::uint16_t port = testing::free_port();
  std::unique_ptr<sdk::Input> input;
  std::thread thread;
  EngineSink& sink;
  Running(EngineSink& s, const std::filesystem::path& dir, const std::string& extra = "") : sink(s) {
    auto parsed = testing::parse_config(
        "http_input", R"({"listen": "127.0.0.1:)" + std::to_string(port) + "\"" + extra + "}");
    auto ctx = testing::test_context("ingest");
    ctx.data_dir = dir;
    input = testing::create<sdk::Input>(parsed, ctx);
    auto st = input->start();
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    thread = std::thread([this] { input->run(sink); });
  }
  ~Running() { end(); }
  void end() {
    if (!thread.joinable()) return;
    sink.stop = true;
    sink.release();
    thread.join();
    input->stop();
  }
};

}  // namespace

TEST_CASE("config: listen is required, the path starts with /") {
  auto p = testing::parse_config("http_input", R"({})");
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/listen"));
  p = testing::parse_config("http_input", R"({"listen": "127.0.0.1:8088", "path": "ingest"})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/path"));
  p = testing::parse_config("http_input", R"({"listen": "8088"})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/listen"));
}

TEST_CASE("a JSON object, a JSON array and NDJSON become records; 202 only once stored") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path);
  auto r = post(in.port, R"({"t": 1})", {"Content-Type: application/json"});
  CHECK(r.status == 202);
  CHECK(r.body == R"({"stored":1})");
  r = post(in.port, R"([{"t": 2}, {"t": 3}, 4])");
  CHECK(r.status == 202);
  CHECK(r.body == R"({"stored":3})");
  r = post(in.port, "{\"t\": 5}\r\n\n{\"t\": 6}\n", {"Content-Type: application/x-ndjson"});
  CHECK(r.status == 202);
  REQUIRE(sink.count() == 6);
  CHECK(boost::json::serialize(sink.stored[0].value) == R"({"t":1})");
  CHECK(boost::json::serialize(sink.stored[3].value) == "4");
  CHECK(boost::json::serialize(sink.stored[5].value) == R"({"t":6})");

  // The answer waits for the stream: held back, no answer; released, 202.
  sink.hold = true;
  auto pending = std::async(std::launch::async, [&] { return post(in.port, R"({"t": 7})"); });
  while (sink.held_count() == 0) std::this_thread::sleep_for(5ms);
  CHECK(pending.wait_for(200ms) == std::future_status::timeout);
  sink.release();
  CHECK(pending.get().status == 202);
}

TEST_CASE("bad requests get a 4xx with the reason and store nothing") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path, R"(, "token": "s3cret", "max_body": "2KiB", "path": "/ingest")");
  const std::string auth = "Authorization: Bearer s3cret";
  auto r = post(in.port, "{\"a\": 1,\n \"b\": }", {auth}, "/ingest");
  CHECK(r.status == 400);
  CHECK(r.body.find("line 2, column") != std::string::npos);
  r = post(in.port, "{\"a\": 1}\n{\"a\": 2}\n{oops}\n", {auth, "Content-Type: application/x-ndjson"},
           "/ingest");
  CHECK(r.status == 400);
  CHECK(r.body.find("line 3") != std::string::npos);
  r = post(in.port, "[]", {auth}, "/ingest");
  CHECK(r.status == 400);
  r = post(in.port, R"({"a": 1})", {}, "/ingest");
  CHECK(r.status == 401);
  CHECK(r.has("WWW-Authenticate: Bearer"));
  r = post(in.port, R"({"a": 1})", {"Authorization: Bearer wrong"}, "/ingest");
  CHECK(r.status == 401);
  r = post(in.port, R"({"a": 1})", {auth}, "/other");
  CHECK(r.status == 404);
  r = post(in.port, "", {auth}, "/ingest", "GET");
  CHECK(r.status == 405);
  CHECK(r.has("Allow: POST"));
  r = post(in.port, "a,b\n1,2\n", {auth, "Content-Type: text/csv"}, "/ingest");
  CHECK(r.status == 415);
  r = post(in.port, "[" + std::string(3000, ' ') + "1]", {auth}, "/ingest");
  CHECK(r.status == 413);
  r = post(in.port, R"({"a": 1})", {auth, "Idempotency-Key: has space"}, "/ingest");
  CHECK(r.status == 400);
  CHECK(sink.count() == 0);
  r = post(in.port, R"({"a": 1})", {auth}, "/ingest");
  CHECK(r.status == 202);
  CHECK(sink.count() == 1);
}

TEST_CASE("Idempotency-Key: a retry is stored once, also after a dropped response") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path);
  auto r = post(in.port, R"([{"n": 1}, {"n": 2}])", {"Idempotency-Key: batch-1"});
  CHECK(r.status == 202);
  r = post(in.port, R"([{"n": 1}, {"n": 2}])", {"Idempotency-Key: batch-1"});
  CHECK(r.status == 202);
  CHECK(r.body == R"({"stored":2,"duplicates":2})");
  REQUIRE(sink.count() == 2);
  CHECK(sink.stored[0].id == "batch-1/0@1.1");
  CHECK(sink.stored[1].id == "batch-1/1@1.2");
  // The same key for another body is a client's mistake.
  r = post(in.port, R"({"n": 3})", {"Idempotency-Key: batch-1"});
  CHECK(r.status == 422);

  // The response is lost with the link while the stream is slow; the client sends it again.
  sink.hold = true;
  post(in.port, R"({"n": 4})", {"Idempotency-Key: k4"}, "/", "POST", false);
  while (sink.held_count() == 0) std::this_thread::sleep_for(5ms);
  auto retry =
      std::async(std::launch::async, [&] { return post(in.port, R"({"n": 4})", {"Idempotency-Key: k4"}); });
  CHECK(retry.wait_for(200ms) == std::future_status::timeout);  // waits for the first one
  sink.release();
  CHECK(retry.get().status == 202);
  r = post(in.port, R"({"n": 4})", {"Idempotency-Key: k4"});
  CHECK(r.status == 202);
  CHECK(sink.count() == 3);
  CHECK(sink.stored[2].id == "k4@1.3");
}

TEST_CASE("idempotency_field: each record's key is its id, a record sent again is stored once") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path, R"(, "idempotency_field": "event")");
  auto r = post(in.port, "{\"event\": \"e1\", \"v\": 1}\n{\"event\": 2, \"v\": 2}\n",
                {"Content-Type: application/x-ndjson"});
  CHECK(r.status == 202);
  r = post(in.port, "{\"event\": 2, \"v\": 2}\n{\"event\": \"e3\", \"v\": 3}\n",
           {"Content-Type: application/x-ndjson"});
  CHECK(r.status == 202);
  CHECK(r.body == R"({"stored":2,"duplicates":1})");
  REQUIRE(sink.count() == 3);
  CHECK(sink.stored[0].id == "e1@1.1");
  CHECK(sink.stored[1].id == "2@1.2");
  CHECK(sink.stored[2].id == "e3@1.3");
  r = post(in.port, R"([{"event": "e9", "v": 1}, {"v": 2}])");
  CHECK(r.status == 400);
  r = post(in.port, R"([{"event": "e9", "v": 1}, {"event": "e9", "v": 2}])");
  CHECK(r.status == 422);
  CHECK(sink.count() == 3);
}

TEST_CASE("backpressure: 429 with Retry-After past max_pending; 503 past ack_timeout") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path, R"(, "max_pending": "64KiB", "ack_timeout": "1s")");
  sink.hold = true;
  const std::string big = "[\"" + std::string(40000, 'x') + "\"]";
  auto first = std::async(std::launch::async, [&] { return post(in.port, big); });
  while (sink.held_count() == 0) std::this_thread::sleep_for(5ms);
  auto r = post(in.port, big);
  CHECK(r.status == 429);
  CHECK(r.has("Retry-After: 1"));
  auto f = first.get();  // not stored within ack_timeout
  CHECK(f.status == 503);
  CHECK(f.has("Retry-After: 5"));
  sink.release();
  // Stored after all (a client without an Idempotency-Key may store it twice: the README says so).
  CHECK(sink.count() == 1);
}

TEST_CASE("a keyed request taken before a crash is stored once at the next start") {
  TempDir dir;
  std::string source;
  {
    // The first run takes two keyed requests; the engine dies before either is seen stored.
    EngineSink sink;
    sink.hold = true;
    Running in(sink, dir.path);
    // One after the other, so that "a" takes position 1 and "b" 2 and 3.
    post(in.port, R"({"n": 1})", {"Idempotency-Key: a"}, "/", "POST", false);
    while (sink.held_count() < 1) std::this_thread::sleep_for(5ms);
    post(in.port, R"([{"n": 2}, {"n": 3}])", {"Idempotency-Key: b"}, "/", "POST", false);
    while (sink.held_count() < 3) std::this_thread::sleep_for(5ms);
    {
      std::lock_guard l(sink.mu);
      sink.held.clear();  // the crash: these callbacks never run
      REQUIRE(sink.positions.size() == 1);
      source = sink.positions.begin()->first;
      CHECK(sink.positions.begin()->second == std::set<std::uint64_t>{1, 2, 3});
    }
    sink.stop = true;
    in.thread.join();
    in.input->stop();
  }
  // The stream of the second run holds "a" (position 1 of the first run, stored before the
  // crash) and not "b".
  EngineSink sink;
  sink.positions[source] = {1};
  Running in(sink, dir.path);
  auto r = post(in.port, R"([{"n": 2}, {"n": 3}])", {"Idempotency-Key: b"});
  CHECK(r.status == 202);
  CHECK(r.body == R"({"stored":2,"duplicates":2})");
  r = post(in.port, R"({"n": 1})", {"Idempotency-Key: a"});
  CHECK(r.status == 202);
  CHECK(r.body == R"({"stored":1,"duplicates":1})");
  std::lock_guard l(sink.mu);
  CHECK(sink.replays == 1);
  REQUIRE(sink.stored.size() == 2);
  CHECK(sink.stored[0].id == "b/0@1.2");
  CHECK(sink.stored[1].id == "b/1@1.3");
  CHECK(sink.positions[source] == std::set<std::uint64_t>{1, 2, 3});
}

TEST_CASE("KeyLog: positions per run, recovery in order, a stored key is remembered") {
  TempDir dir;
  const auto path = (dir.path / "k.keys").string();
  std::string source1;
  {
    KeyLog log;
    REQUIRE(log.open(path, "f/c", 24h, 1000).empty());
    CHECK(log.run() == 1);
    source1 = log.source(1);
    CHECK(log.take("x", 7, {"1", "2"}) == 1);
    CHECK(log.take("y", 8, {"3"}) == 3);
    log.stored("x", 7);
  }
  KeyLog log;
  REQUIRE(log.open(path, "f/c", 24h, 1000).empty());
  CHECK(log.run() == 2);
  CHECK(log.source(1) == source1);  // the epoch is kept
  REQUIRE(log.recovered().size() == 1);
  CHECK(log.recovered()[0].key == "y");
  CHECK(log.recovered()[0].pos == 3);
  CHECK(log.recovered()[0].run == 1);
  CHECK(log.recovered()[0].records == std::vector<std::string>{"3"});
  REQUIRE(log.find("x") != nullptr);
  CHECK(log.find("x")->hash == 7);
  CHECK(log.take("z", 9, {"4"}) == 1);  // a new run starts its positions again

  // A torn last entry (a kill mid-write) is dropped with its records, never misread.
  { std::ofstream(path, std::ios::app) << "+ 2 5 3 0000000000000009 1 torn\n{\"a\":1}\n"; }
  KeyLog again;
  REQUIRE(again.open(path, "f/c", 24h, 1000).empty());
  for (const auto& p : again.recovered()) CHECK(p.key != "torn");
}

TEST_CASE("KeyLog: at most max_keys keys are remembered, the oldest forgotten first") {
  TempDir dir;
  KeyLog log;
  REQUIRE(log.open((dir.path / "k.keys").string(), "f/c", 24h, 3).empty());
  for (int i = 0; i < 5; ++i) {
    const auto k = "k" + std::to_string(i);
    log.take(k, 1, {"1"});
    log.stored(k, 1);
  }
  CHECK(log.keys() == 3);
  CHECK(log.forgotten() == 2);
  CHECK(log.find("k0") == nullptr);
  CHECK(log.find("k4") != nullptr);
}

// ---- review ----

TEST_CASE("review: KeyLog: a key past the window is forgotten even when no other key is stored since") {
  TempDir dir;
  KeyLog log;
  REQUIRE(log.open((dir.path / "k.keys").string(), "f/c", 100ms, 1000).empty());
  log.take("k", 1, {"1"});
  log.stored("k", 1);
  REQUIRE(log.find("k") != nullptr);
  std::this_thread::sleep_for(250ms);
  // README: "a retry after that is stored again"; a key reused past the window with another body
  // must not get 422, nor a retry 202 with nothing stored.
  CHECK(log.find("k") == nullptr);
}

TEST_CASE("review: KeyLog: a keyed request of more than a million records is recovered after a crash") {
  // max_body may be up to 64 MiB: an NDJSON body of "1\n" lines holds 32 Mi records.
  TempDir dir;
  const auto path = (dir.path / "k.keys").string();
  {
    KeyLog log;
    REQUIRE(log.open(path, "f/c", 24h, 1000).empty());
    REQUIRE(log.take("big", 5, std::vector<std::string>(1'000'001, "1")) == 1);
  }
  KeyLog log;
  REQUIRE(log.open(path, "f/c", 24h, 1000).empty());
  REQUIRE(log.recovered().size() == 1);
  CHECK(log.recovered()[0].key == "big");
  CHECK(log.recovered()[0].records.size() == 1'000'001);
}

TEST_CASE("review: a body with a UTF-8 byte order mark is taken (RFC 8259 8.1: a parser may ignore it)") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path);
  auto r = post(in.port, "\xEF\xBB\xBF{\"n\": 1}", {"Content-Type: application/json"});
  CHECK(r.status == 202);
  r = post(in.port, "\xEF\xBB\xBF{\"n\": 2}\r\n{\"n\": 3}\r\n", {"Content-Type: application/x-ndjson"});
  CHECK(r.status == 202);
  CHECK(sink.count() == 3);
}

namespace {

// Sends `bytes` as they are on one connection, half-closes it, and returns everything read
// until the server closes it (or `wait` passes).
std::string raw_exchange(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds wait = 5s) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  REQUIRE_FALSE(ec);
  asio::write(s, asio::buffer(bytes), ec);
  std::string all;
  std::array<char, 4096> buf{};
  const auto until = std::chrono::steady_clock::now() + wait;
  s.non_blocking(true);
  while (std::chrono::steady_clock::now() < until) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(5ms);
      continue;
    }
    all.append(buf.data(), n);
    if (ec) break;
  }
  return all;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("review: HTTP edges: max_body exactly, chunked, Expect 100-continue, pipelined, HEAD, OPTIONS") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path, R"(, "max_body": "1KiB", "token": "tok")");
  const std::string auth = "Authorization: Bearer tok";
  // A body of exactly max_body is taken; one byte more is 413.
  std::string body = R"({"pad": ")";
  body += std::string(1024 - body.size() - 2, 'x') + "\"}";
  REQUIRE(body.size() == 1024);
  CHECK(post(in.port, body, {auth}).status == 202);
  CHECK(post(in.port, body + " ", {auth}).status == 413);
  // Chunked.
  auto all = raw_exchange(in.port, "POST / HTTP/1.1\r\nHost: t\r\n" + auth +
                                       "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                       "4\r\n{\"n\"\r\n4\r\n: 7}\r\n0\r\n\r\n");
  CHECK(all.starts_with("HTTP/1.1 202"));
  // Expect: 100-continue.
  all = raw_exchange(in.port, "POST / HTTP/1.1\r\nHost: t\r\n" + auth +
                                  "\r\nExpect: 100-continue\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
                                  "{\"n\": 8}");
  CHECK(all.find("HTTP/1.1 202") != std::string::npos);
  // Two requests pipelined on one connection: two answers, in order.
  all = raw_exchange(in.port, "POST / HTTP/1.1\r\nHost: t\r\n" + auth +
                                  "\r\nContent-Length: 8\r\n\r\n{\"n\": 9}"
                                  "POST / HTTP/1.1\r\nHost: t\r\n" +
                                  auth + "\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{\"n\": 10}");
  CHECK(count_of(all, "HTTP/1.1 202") == 2);
  // HEAD and OPTIONS: 405 with Allow.
  auto r = post(in.port, "", {auth}, "/", "OPTIONS");
  CHECK(r.status == 405);
  CHECK(r.has("Allow: POST"));
  all = raw_exchange(in.port, "HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(all.starts_with("HTTP/1.1 405"));
  // The token with odd whitespace around it, and a wrong-case scheme.
  CHECK(post(in.port, R"({"n": 11})", {"Authorization:   Bearer tok  "}).status == 202);
  CHECK(post(in.port, R"({"n": 12})", {"Authorization: bearer tok"}).status == 202);
  CHECK(post(in.port, R"({"n": 13})", {"Authorization: Bearer to"}).status == 401);
  CHECK(post(in.port, R"({"n": 13})", {"Authorization: Bearer tokk"}).status == 401);
  CHECK(sink.count() == 7);
}

TEST_CASE(
    "review: odd bodies: empty, null, a bare number, out-of-range numbers, invalid UTF-8, deep nesting") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path);
  CHECK(post(in.port, "").status == 400);
  CHECK(post(in.port, "   \r\n").status == 400);
  CHECK(post(in.port, "", {"Content-Type: application/x-ndjson"}).status == 400);
  CHECK(post(in.port, "\r\n\r\n", {"Content-Type: application/x-ndjson"}).status == 400);
  CHECK(post(in.port, "1e400").status == 400);
  CHECK(post(in.port, R"({"a": -1e999})").status == 400);
  CHECK(post(in.port, "{\"a\": \"\xC3\x28\"}").status == 400);
  CHECK(post(in.port, "{\"a\": \"\xC3\x28\"}\n", {"Content-Type: application/x-ndjson"}).status == 400);
  CHECK(post(in.port, std::string(100, '[') + std::string(100, ']')).status == 400);
  CHECK(post(in.port, R"({"a": 1} {"b": 2})").status == 400);  // two values in a JSON body
  CHECK(sink.count() == 0);
  const auto before = sink.count();
  auto r = post(in.port, "null");
  INFO("null: " << r.status << " " << r.body);
  r = post(in.port, "42");
  INFO("42: " << r.status << " " << r.body);
  r = post(in.port, "18446744073709551616");  // 2^64: a double
  INFO("2^64: " << r.status << " " << r.body);
  CHECK(sink.count() >= before);
}

TEST_CASE("review: the same key from many clients at once: stored once, every client 202; another body 422") {
  TempDir dir;
  EngineSink sink;
  sink.hold = true;
  Running in(sink, dir.path);
  const std::string body = R"([{"n": 1}, {"n": 2}])";
  std::vector<std::future<Reply>> same;
  for (int i = 0; i < 8; ++i)
    same.push_back(
        std::async(std::launch::async, [&] { return post(in.port, body, {"Idempotency-Key: same"}); }));
  while (sink.held_count() < 2) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(100ms);  // the others wait for the first
  CHECK(post(in.port, R"([{"n": 1}, {"n": 3}])", {"Idempotency-Key: same"}).status == 422);
  sink.release();
  for (auto& f : same) CHECK(f.get().status == 202);
  CHECK(sink.count() == 2);
  CHECK(post(in.port, body, {"Idempotency-Key: same"}).body == R"({"stored":2,"duplicates":2})");
}

TEST_CASE("review: the key log cannot grow (file size limit, as a full disk): 503, then taken once it can") {
  TempDir dir;
  EngineSink sink;
  Running in(sink, dir.path);
  std::string big = R"({"pad": ")" + std::string(8000, 'x') + "\"}";
  ::rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto* prev = std::signal(SIGXFSZ, SIG_IGN);
  ::rlimit small = old;
  small.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  auto r = post(in.port, big, {"Idempotency-Key: big"});
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
  std::signal(SIGXFSZ, prev);
  CHECK(r.status == 503);
  CHECK(r.has("Retry-After"));
  CHECK(sink.count() == 0);
  r = post(in.port, big, {"Idempotency-Key: big"});
  CHECK(r.status == 202);
  CHECK(r.body == R"({"stored":1})");
  in.end();
  // The next start finds no torn entry and nothing to recover.
  EngineSink again;
  Running in2(again, dir.path);
  CHECK(post(in2.port, big, {"Idempotency-Key: big"}).body == R"({"stored":1,"duplicates":1})");
  CHECK(again.count() == 0);
}

TEST_CASE(
    "review: stop with every handler thread waiting and more requests queued: prompt 503s, the retries "
    "at the next start stored once") {
  TempDir dir;
  std::string source;
  std::vector<Reply> replies;
  {
    EngineSink sink;
    sink.hold = true;
    Running in(sink, dir.path, R"(, "max_concurrent": 2)");
    std::vector<std::future<Reply>> waiting;
    for (int i = 0; i < 6; ++i)
      waiting.push_back(std::async(std::launch::async, [&, i] {
        return post(in.port, R"({"n": )" + std::to_string(i) + "}",
                    {"Idempotency-Key: s" + std::to_string(i)});
      }));
    while (sink.held_count() < 2) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(200ms);
    const auto t0 = std::chrono::steady_clock::now();
    {
      std::lock_guard l(sink.mu);
      sink.held.clear();  // never stored
    }
    sink.stop = true;
    in.thread.join();
    in.input->stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    for (auto& f : waiting) replies.push_back(f.get());
  }
  for (const auto& r : replies) CHECK(r.status != 202);
  EngineSink sink;
  Running in(sink, dir.path);
  for (int i = 0; i < 6; ++i) {
    auto r = post(in.port, R"({"n": )" + std::to_string(i) + "}", {"Idempotency-Key: s" + std::to_string(i)});
    CHECK(r.status == 202);
  }
  // The first two were pushed before the stop, never stored: stored now, once; none twice.
  CHECK(sink.count() == 6);
  std::set<std::string> ids;
  std::lock_guard l(sink.mu);
  for (const auto& r : sink.stored) ids.insert(r.id);
  CHECK(ids.size() == 6);
}

// ---- TLS ----

namespace {

// A POST over TLS on a new connection (Connection: close): the server verified against `tls.ca`
// for 127.0.0.1, `tls.cert`/`tls.key` presented when set. Status 0 with the error when the
// handshake or the exchange failed.
Reply tls_post(std::uint16_t port, const ws::TlsOptions& tls, const std::string& body) {
  namespace asio = boost::asio;
  Reply r;
  std::string error;
  const auto ctx = ws::detail::make_client_context(tls, "127.0.0.1", error);
  REQUIRE_MESSAGE(ctx, error);
  asio::io_context io;
  asio::ssl::stream<asio::ip::tcp::socket> s(io, *ctx);
  boost::system::error_code ec;
  s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (!ec) s.handshake(asio::ssl::stream_base::client, ec);
  if (!ec) asio::write(s, asio::buffer(testing::raw_request_text(body)), ec);
  if (ec) {
    r.error = ec.message();
    return r;
  }
  // TLS 1.3: a server that refuses the client's certificate says so after the client's side of
  // the handshake is done, with an alert the first read gets.
  return testing::read_reply(s);
}

std::string tls_config(const testing::Pki& pki, const std::string& client_ca = "") {
  return R"(, "tls": {"cert": ")" + pki.path("server.pem") + R"(", "key": ")" + pki.path("server.key") +
         R"(", "ca": ")" + client_ca + R"("})";
}

}  // namespace

TEST_CASE(
    "TLS: 202 over HTTPS; a plain HTTP client gets 400, a client that does not trust the server nothing") {
  TempDir dir;
  EngineSink sink;
  testing::Pki pki;
  Running in(sink, dir.path, tls_config(pki));
  const ws::TlsOptions trusting{"", "", pki.path("ca.pem")};
  auto r = tls_post(in.port, trusting, R"({"t": 1})");
  CHECK_MESSAGE(r.status == 202, r.error);
  CHECK(r.body == R"({"stored":1})");
  // Kept alive over TLS: two requests on one connection are tested by the HTTP server's own
  // tests; here the second connection is a new handshake.
  CHECK(tls_post(in.port, trusting, R"([{"t": 2}, {"t": 3}])").status == 202);
  CHECK(sink.count() == 3);

  r = post(in.port, R"({"t": 4})");
  CHECK(r.status == 400);
  CHECK(r.body.find("this listener speaks HTTPS only") != std::string::npos);
  r = tls_post(in.port, {"", "", pki.path("other_ca.pem")}, R"({"t": 5})");
  CHECK(r.status == 0);
  CHECK(r.error.find("certificate verify failed") != std::string::npos);
  CHECK(sink.count() == 3);
  // Counted when the server's side of the handshake ends, which may come after the client saw it fail.
  CHECK(testing::wait_until([&] { return testing::metric(*in.input, "tls_handshake_failures") == 2; }, 5s));
}

TEST_CASE("TLS with a client CA: a client certificate that chains to it is required") {
  TempDir dir;
  EngineSink sink;
  testing::Pki pki;
  Running in(sink, dir.path, tls_config(pki, pki.path("ca.pem")));
  auto r =
      tls_post(in.port, {pki.path("client.pem"), pki.path("client.key"), pki.path("ca.pem")}, R"({"t": 1})");
  CHECK_MESSAGE(r.status == 202, r.error);
  CHECK(sink.count() == 1);
  // Without a certificate, and with one the CA did not sign (the server's own key pair is
  // signed by the same CA: the other CA's self-signed certificate stands for a stranger).
  r = tls_post(in.port, {"", "", pki.path("ca.pem")}, R"({"t": 2})");
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());
  r = tls_post(in.port, {pki.path("other_ca.pem"), pki.path("other_ca.key"), pki.path("ca.pem")},
               R"({"t": 3})");
  CHECK(r.status == 0);
  CHECK(sink.count() == 1);
  // Counted when the server's side of the handshake ends, which may come after the client saw it fail.
  CHECK(testing::wait_until([&] { return testing::metric(*in.input, "tls_handshake_failures") == 2; }, 5s));
}

TEST_CASE("TLS: a missing or wrong certificate or key fails start() with the file named") {
  TempDir dir;
  testing::Pki pki;
  auto start = [&](const std::string& cert, const std::string& key, const std::string& ca = "") {
    auto parsed = testing::parse_config(
        "http_input", R"({"listen": "127.0.0.1:)" + std::to_string(testing::free_port()) +
                          R"(", "tls": {"cert": ")" + cert + R"(", "key": ")" + key + R"(", "ca": ")" + ca +
                          R"("}})");
    REQUIRE_MESSAGE(parsed.diags.items().empty(), testing::dump(parsed.diags));
    auto ctx = testing::test_context("ingest");
    ctx.data_dir = dir.path;
    auto input = testing::create<sdk::Input>(parsed, ctx);
    auto st = input->start();
    input->stop();
    return st.is_ok() ? std::string() : st.error();
  };
  CHECK(start(pki.path("server.pem"), pki.path("server.key")).empty());
  const auto missing = start(pki.path("nothing.pem"), pki.path("server.key"));
  CHECK(missing.find("cannot serve HTTPS: TLS certificate " + pki.path("nothing.pem")) == 0);
  const auto not_a_key = start(pki.path("server.pem"), pki.path("server.pem"));
  CHECK(not_a_key.find("TLS key " + pki.path("server.pem")) != std::string::npos);
  const auto other_key = start(pki.path("server.pem"), pki.path("client.key"));
  CHECK(other_key.find("TLS key " + pki.path("client.key")) != std::string::npos);
  const auto no_ca = start(pki.path("server.pem"), pki.path("server.key"), pki.path("nothing.pem"));
  CHECK(no_ca.find("TLS CA " + pki.path("nothing.pem")) != std::string::npos);
}

TEST_CASE("TLS: a connection that never completes its handshake is closed after read_timeout") {
  TempDir dir;
  EngineSink sink;
  testing::Pki pki;
  Running in(sink, dir.path, tls_config(pki) + R"(, "read_timeout": "1s")");
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), in.port});
  const auto t0 = std::chrono::steady_clock::now();
  std::array<char, 16> buf{};
  boost::system::error_code ec;
  const auto n = s.read_some(asio::buffer(buf), ec);  // blocks until the server closes
  CHECK(n == 0);
  CHECK(ec);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("config: TLS needs both cert and key; a client CA needs them too") {
  const std::string at = "/components/0/config/tls";
  auto p = testing::parse_config("http_input", R"({"listen": "127.0.0.1:8088", "tls": {"cert": "/c.pem"}})");
  CHECK(testing::has_diag(p.diags, "invalid_value", at));
  p = testing::parse_config("http_input", R"({"listen": "127.0.0.1:8088", "tls": {"key": "/k.pem"}})");
  CHECK(testing::has_diag(p.diags, "invalid_value", at));
  p = testing::parse_config("http_input", R"({"listen": "127.0.0.1:8088", "tls": {"ca": "/ca.pem"}})");
  CHECK(testing::has_diag(p.diags, "invalid_value", at));
  p = testing::parse_config("http_input",
                            R"({"listen": "127.0.0.1:8088", "tls": {"certificate": "/c.pem"}})");
  CHECK(testing::has_diag(p.diags, "unknown_field", at + "/certificate"));
  p = testing::parse_config(
      "http_input", R"({"listen": "127.0.0.1:8088", "tls": {"cert": "/c", "key": "/k", "ca": "/a"}})");
  CHECK_MESSAGE(p.diags.items().empty(), testing::dump(p.diags));
}
