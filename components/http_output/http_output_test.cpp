// http_output against real HTTP servers on loopback: the engine's own server (weir::http::Server)
// answering from a script, and a small TLS server; the servers count every request and
// connection they see. No timing thresholds: waits are only asserted from below.
#include <doctest/doctest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <mutex>
#include <set>
#include <thread>

#include "common/http/client.hpp"
#include "common/websocket/tls_context.hpp"
#include "http/server.hpp"
#include "http_output/http_output.hpp"
#include "sdk/base/json_write.hpp"
#include "support/component_testing.hpp"
#include "support/free_port.hpp"
#include "support/nats_harness.hpp"  // wait_until
#include "support/test_pki.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A request as the server saw it.
struct Seen {
  std::string method, target, body, remote;
  std::map<std::string, std::string> headers;  // names lower-case
  Clock::time_point at;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The engine's HTTP server on loopback (port 0: any; else that one), answering each request with
// script(request, how many came before it).
class Peer {
 public:
  using Script = std::function<http::Response(const Seen&, std::size_t)>;
  explicit Peer(Script script, std::uint16_t port = 0, std::chrono::milliseconds idle = 60s)
      : script_(std::move(script)),
        server_(io_, options(port, idle), [this](const http::Request& r) { return on_request(r); }) {
    std::string error;
    REQUIRE_MESSAGE(server_.start(&error), error);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Peer() {
    server_.stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::string url(const std::string& path = "/ingest") const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + path;
  }
  std::vector<Seen> seen() const {
    std::lock_guard l(mu_);
    return seen_;
  }
  // Connections seen: requests from distinct client ports.
  std::size_t connections() const {
    std::set<std::string> remotes;
    for (const auto& s : seen()) remotes.insert(s.remote);
    return remotes.size();
  }
  std::size_t open_connections() const { return server_.connections(); }

 private:
  static http::ServerOptions options(std::uint16_t port, std::chrono::milliseconds idle) {
    http::ServerOptions o;
    o.listen = "127.0.0.1:" + std::to_string(port);
    o.idle_timeout = idle;
    return o;
  }
  http::Response on_request(const http::Request& r) {
    Seen s{r.method, r.target, r.body, r.remote, {}, Clock::now()};
    for (const auto& [n, v] : r.headers) s.headers[lower(n)] = v;
    std::size_t n = 0;
    {
      std::lock_guard l(mu_);
      n = seen_.size();
      seen_.push_back(s);
    }
    return script_(s, n);
  }
  Script script_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  http::Server server_;
  std::thread thread_;
};

http::Response status(unsigned code, std::string body = "{}") {
  http::Response r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

std::unique_ptr<sdk::Output> make(const std::string& config) {
  auto p = parse_config("http_output", config);
  auto out = create<sdk::Output>(p, test_context("out"));
  auto st = out->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  return out;
}

// Fast retries for tests: the waits are not what they check.
std::string config(const std::string& url, const std::string& extra = "") {
  return R"({"url": ")" + url + R"(", "backoff_min": "10ms", "backoff_max": "50ms")" + extra + "}";
}

std::vector<sdk::Record> numbered(int n) {
  std::vector<sdk::Record> out;
  for (int i = 0; i < n; ++i)
    out.push_back(rec(R"({"n":)" + std::to_string(i) + "}", "r" + std::to_string(i)));
  return out;
}

}  // namespace

TEST_CASE("503 twice then 200: three requests, the record accepted once, one Idempotency-Key") {
  std::set<std::string> stored;  // what a receiver honouring Idempotency-Key keeps
  Peer peer([&](const Seen& s, std::size_t n) {
    if (n < 2) return status(503);
    stored.insert(s.header("idempotency-key") + " " + s.body);
    return status(200);
  });
  auto out = make(config(peer.url()));
  sdk::Rejects rejects;
  auto records = numbered(1);
  auto st = out->write(records, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  CHECK(rejects.items.empty());
  const auto seen = peer.seen();
  REQUIRE(seen.size() == 3);
  for (const auto& s : seen) {
    CHECK(s.method == "POST");
    CHECK(s.target == "/ingest");
    CHECK(s.body == R"({"n":0})");
    CHECK(s.header("idempotency-key") == "r0");
    CHECK(s.header("content-type") == "application/json");
  }
  CHECK(stored.size() == 1);
  CHECK(metric(*out, "requests") == 3);
  CHECK(metric(*out, "retries") == 2);
  CHECK(metric(*out, "responses_5xx") == 2);
  CHECK(metric(*out, "responses_2xx") == 1);
}

TEST_CASE("a 400 sends the request's records to error with the status and the body; others go on") {
  Peer peer([](const Seen& s, std::size_t) {
    return s.body.find("\"n\":1") != std::string::npos ? status(400, R"({"error":"n must not be 1"})")
                                                       : status(204, "");
  });
  auto out = make(config(peer.url()));
  sdk::Rejects rejects;
  auto records = numbered(3);
  auto st = out->write(records, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  REQUIRE(rejects.items.size() == 1);
  CHECK(rejects.items[0].first == 1);
  CHECK(rejects.items[0].second.find("HTTP 400") != std::string::npos);
  CHECK(rejects.items[0].second.find("n must not be 1") != std::string::npos);
  CHECK(peer.seen().size() == 3);  // no retry of the refused one
  CHECK(metric(*out, "records_rejected") == 1);
  CHECK(metric(*out, "responses_4xx") == 1);
  CHECK(metric(*out, "retries") == 0);
}

TEST_CASE("408 is retried; a redirect is not followed: its records go to error") {
  Peer peer([](const Seen& s, std::size_t n) {
    if (s.header("idempotency-key") == "r0") return status(n == 0 ? 408 : 200);
    auto r = status(302, "");
    r.headers.emplace_back("Location", "/elsewhere");
    return r;
  });
  auto out = make(config(peer.url()));
  sdk::Rejects rejects;
  auto records = numbered(2);
  REQUIRE(out->write(records, rejects).is_ok());
  REQUIRE(rejects.items.size() == 1);
  CHECK(rejects.items[0].first == 1);
  CHECK(rejects.items[0].second.find("HTTP 302") != std::string::npos);
  CHECK(peer.seen().size() == 3);  // r0 twice, r1 once
  CHECK(metric(*out, "retries") == 1);
  CHECK(metric(*out, "responses_3xx") == 1);
}

TEST_CASE("429 with Retry-After: the next attempt waits at least the time asked") {
  Peer peer([](const Seen&, std::size_t n) {
    if (n > 0) return status(200);
    auto r = status(429);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  });
  auto out = make(config(peer.url()));
  sdk::Rejects rejects;
  auto records = numbered(1);
  REQUIRE(out->write(records, rejects).is_ok());
  const auto seen = peer.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].at - seen[0].at >= 1s);
  CHECK(metric(*out, "retries") == 1);
}

TEST_CASE("Retry-After: seconds or an HTTP date") {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(httpc::parse_retry_after("120", now) == std::chrono::seconds(120));
  CHECK(httpc::parse_retry_after(" 0 ", now) == std::chrono::seconds(0));
  CHECK(httpc::parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == std::chrono::seconds(30));
  CHECK(httpc::parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now) == std::chrono::seconds(60));
  CHECK(httpc::parse_retry_after("Wed Oct 21 07:28:10 2015", now) == std::chrono::seconds(10));
  CHECK(httpc::parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now) == std::chrono::seconds(0));
  CHECK_FALSE(httpc::parse_retry_after("soon", now));
  CHECK_FALSE(httpc::parse_retry_after("", now));
}

TEST_CASE("a Retry-After beyond retry_time fails the write at once") {
  Peer peer([](const Seen&, std::size_t) {
    auto r = status(503);
    r.headers.emplace_back("Retry-After", "3600");
    return r;
  });
  auto out = make(config(peer.url(), R"(, "retry_time": "5s")"));
  sdk::Rejects rejects;
  auto records = numbered(1);
  auto st = out->write(records, rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("Retry-After 3600 s") != std::string::npos);
  CHECK(peer.seen().size() == 1);
}

TEST_CASE("array and ndjson: consecutive records share a request up to max_records and max_bytes") {
  Peer peer([](const Seen&, std::size_t) { return status(200); });
  auto records = numbered(5);
  std::vector<std::string> keys;
  SUBCASE("array") {
    auto out = make(config(peer.url(), R"(, "format": "array", "max_records": 2)"));
    sdk::Rejects rejects;
    REQUIRE(out->write(records, rejects).is_ok());
    const auto seen = peer.seen();
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].body == R"([{"n":0},{"n":1}])");
    CHECK(seen[1].body == R"([{"n":2},{"n":3}])");
    CHECK(seen[2].body == R"([{"n":4}])");
    CHECK(seen[0].header("content-type") == "application/json");
    for (const auto& s : seen) keys.push_back(s.header("idempotency-key"));
  }
  SUBCASE("ndjson") {
    auto out = make(config(peer.url(), R"(, "format": "ndjson", "max_records": 3)"));
    sdk::Rejects rejects;
    REQUIRE(out->write(records, rejects).is_ok());
    const auto seen = peer.seen();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].body == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
    CHECK(seen[1].body == "{\"n\":3}\n{\"n\":4}\n");
    CHECK(seen[0].header("content-type") == "application/x-ndjson");
    for (const auto& s : seen) keys.push_back(s.header("idempotency-key"));
  }
  SUBCASE("max_bytes") {
    std::vector<sdk::Record> big;
    for (int i = 0; i < 3; ++i)
      big.push_back(rec(R"({"s":")" + std::string(600, 'x') + R"("})", "b" + std::to_string(i)));
    auto out = make(config(peer.url(), R"(, "format": "array", "max_bytes": 1024)"));
    sdk::Rejects rejects;
    REQUIRE(out->write(big, rejects).is_ok());
    const auto seen = peer.seen();
    REQUIRE(seen.size() == 3);  // two do not fit in 1 KiB
    for (const auto& s : seen) keys.push_back(s.header("idempotency-key"));
  }
  // Keys differ per request, and are a hash of the ids.
  CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());
  for (const auto& k : keys) CHECK(k.rfind("sha256-", 0) == 0);
}

TEST_CASE("a batch delivered again gets the same Idempotency-Keys (another process, same records)") {
  Peer peer([](const Seen&, std::size_t) { return status(200); });
  auto records = numbered(4);
  for (int run = 0; run < 2; ++run) {
    auto out = make(config(peer.url(), R"(, "format": "ndjson", "max_records": 2)"));
    sdk::Rejects rejects;
    REQUIRE(out->write(records, rejects).is_ok());
  }
  const auto seen = peer.seen();
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].header("idempotency-key") == seen[2].header("idempotency-key"));
  CHECK(seen[1].header("idempotency-key") == seen[3].header("idempotency-key"));
  CHECK(seen[0].header("idempotency-key") != seen[1].header("idempotency-key"));
}

TEST_CASE("url_expr and header_exprs: a request per run of equal URL and headers; bad ones to error") {
  Peer peer([](const Seen&, std::size_t) { return status(200); });
  const std::string base = peer.url("/");
  auto out = make(R"({"url_expr": "\")" + base + R"(\" + site", "format": "array",
      "headers": {"X-Source": "weir"}, "header_exprs": {"X-Line": "line"},
      "authorization": "Bearer s3cret"})");
  std::vector<sdk::Record> records = {rec(R"({"site":"a","line":1})", "1"),
                                      rec(R"({"site":"a","line":1})", "2"),
                                      rec(R"({"site":"a","line":2})", "3"),
                                      rec(R"({"site":5,"line":2})", "4"),
                                      rec(R"({"site":"b","line":2})", "5"),
                                      rec(R"({"site":"b","line":{}})", "6"),
                                      rec(R"({"line":2})", "7"),
                                      rec(R"({"site":"b","line":2})", "8")};
  sdk::Rejects rejects;
  REQUIRE(out->write(records, rejects).is_ok());
  std::set<std::size_t> rejected;
  for (const auto& [i, why] : rejects.items) rejected.insert(i);
  CHECK(rejected == std::set<std::size_t>{3, 5, 6});
  const auto seen = peer.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].target == "/a");
  CHECK(seen[0].header("x-line") == "1");
  CHECK(seen[0].body == R"([{"site":"a","line":1},{"site":"a","line":1}])");
  CHECK(seen[1].target == "/a");
  CHECK(seen[1].header("x-line") == "2");
  CHECK(seen[2].target == "/b");
  CHECK(seen[2].body == R"([{"site":"b","line":2},{"site":"b","line":2}])");  // 4, 6 and 7 left out
  for (const auto& s : seen) {
    CHECK(s.header("x-source") == "weir");
    CHECK(s.header("authorization") == "Bearer s3cret");
  }
}

TEST_CASE("a server that is down, then comes up: the write waits for it and delivers once") {
  const auto port = free_port();
  auto out = make(config("http://127.0.0.1:" + std::to_string(port) + "/in", R"(, "retry_time": "60s")"));
  auto records = numbered(1);
  sdk::Status st = sdk::Status::error("not run");
  std::thread writer([&] {
    sdk::Rejects rejects;
    st = out->write(records, rejects);
  });
  REQUIRE(wait_until([&] { return metric(*out, "request_errors") >= 2; }, 20s));
  Peer peer([](const Seen&, std::size_t) { return status(200); }, port);
  writer.join();
  CHECK_MESSAGE(st.is_ok(), st.error());
  CHECK(peer.seen().size() == 1);
}

TEST_CASE("keep-alive: requests share one connection; one the server closed when idle is replaced") {
  Peer peer([](const Seen&, std::size_t) { return status(200); }, 0, 300ms);
  auto out = make(config(peer.url()));
  auto records = numbered(10);
  sdk::Rejects rejects;
  REQUIRE(out->write(records, rejects).is_ok());
  CHECK(peer.seen().size() == 10);
  CHECK(peer.connections() == 1);
  CHECK(metric(*out, "connects") == 1);
  // The server drops the idle connection; the next request finds out and takes a new one,
  // without a retry (and without a request lost or sent twice).
  REQUIRE(wait_until([&] { return peer.open_connections() == 0; }, 20s));
  std::vector<sdk::Record> more = {rec(R"({"n":10})", "m10"), rec(R"({"n":11})", "m11")};
  REQUIRE(out->write(more, rejects).is_ok());
  CHECK(peer.seen().size() == 12);
  CHECK(peer.connections() == 2);
  CHECK(metric(*out, "retries") == 0);
}

TEST_CASE("retry_time exhausted: write() fails, and a later write does not send what got 2xx again") {
  std::atomic<bool> healthy{false};
  Peer peer([&](const Seen& s, std::size_t) {
    return healthy || s.header("idempotency-key") != "r1" ? status(200) : status(500);
  });
  auto out = make(config(peer.url(), R"(, "retry_time": "300ms")"));
  auto records = numbered(3);
  sdk::Rejects rejects;
  auto st = out->write(records, rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("HTTP 500") != std::string::npos);
  CHECK(rejects.items.empty());
  auto seen = peer.seen();
  REQUIRE(seen.size() >= 3);  // r0, then r1 at least twice; r2 never
  CHECK(seen[0].header("idempotency-key") == "r0");
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i].header("idempotency-key") == "r1");
  // The engine delivers the batch again: r0 is not sent again.
  healthy = true;
  const auto before = seen.size();
  REQUIRE(out->write(records, rejects).is_ok());
  seen = peer.seen();
  REQUIRE(seen.size() == before + 2);
  CHECK(seen[before].header("idempotency-key") == "r1");
  CHECK(seen[before + 1].header("idempotency-key") == "r2");
  CHECK(metric(*out, "requests_skipped") == 1);
}

TEST_CASE("retry_time 0: the first failure fails the write") {
  Peer peer([](const Seen&, std::size_t) { return status(502); });
  auto out = make(config(peer.url(), R"(, "retry_time": "0s")"));
  auto records = numbered(1);
  sdk::Rejects rejects;
  CHECK_FALSE(out->write(records, rejects).is_ok());
  CHECK(peer.seen().size() == 1);
}

TEST_CASE("stop() ends a write that is retrying") {
  Peer peer([](const Seen&, std::size_t) { return status(503); });
  auto out = make(config(peer.url(), R"(, "retry_time": "1h")"));
  auto records = numbered(1);
  sdk::Status st;
  std::thread writer([&] {
    sdk::Rejects rejects;
    st = out->write(records, rejects);
  });
  REQUIRE(wait_until([&] { return peer.seen().size() >= 2; }, 20s));
  out->stop();
  writer.join();
  CHECK_FALSE(st.is_ok());
  CHECK(st.error().find("stopping") != std::string::npos);
}

TEST_CASE("PUT, and a slow answer within request_timeout") {
  Peer peer([](const Seen&, std::size_t) {
    std::this_thread::sleep_for(200ms);
    return status(201);
  });
  auto out = make(config(peer.url(), R"(, "method": "PUT", "request_timeout": "20s")"));
  auto records = numbered(1);
  sdk::Rejects rejects;
  REQUIRE(out->write(records, rejects).is_ok());
  REQUIRE(peer.seen().size() == 1);
  CHECK(peer.seen()[0].method == "PUT");
}

TEST_CASE("request_timeout: a server slower than it is retried, then the write fails") {
  Peer peer([](const Seen&, std::size_t) {
    std::this_thread::sleep_for(1500ms);
    return status(200);
  });
  auto out = make(config(peer.url(), R"(, "request_timeout": "200ms", "retry_time": "0s")"));
  auto records = numbered(1);
  sdk::Rejects rejects;
  auto st = out->write(records, rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("no response within 200 ms") != std::string::npos);
  CHECK(metric(*out, "request_errors") == 1);
}

namespace {

// A TLS HTTP/1.1 server on loopback with the test PKI's server certificate: answers 200 to each
// request, one connection at a time.
// A loopback server on a thread of its own, one connection at a time; what it answers is the
// subclass's (serve()). A subclass calls listen() last in its constructor and shut() first in
// its destructor.
class LoopbackPeer {
 public:
  virtual ~LoopbackPeer() = default;
  std::vector<std::string> bodies() const {
    std::lock_guard l(mu_);
    return bodies_;
  }

 protected:
  void listen() {
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] {
      while (!stop_) {
        boost::system::error_code ec;
        boost::asio::ip::tcp::socket sock(io_);
        acceptor_.accept(sock, ec);
        if (ec || stop_) continue;
        serve(std::move(sock));
      }
    });
  }
  void shut() {
    stop_ = true;
    boost::asio::ip::tcp::socket wake(io_);
    boost::system::error_code ec;
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url(const std::string& scheme, const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }
  // Keeps a request's body; returns how many came before it.
  std::size_t keep(const std::string& body) {
    std::lock_guard l(mu_);
    bodies_.push_back(body);
    return bodies_.size() - 1;
  }
  virtual void serve(boost::asio::ip::tcp::socket&& sock) = 0;

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_, boost::asio::ip::tcp::v4()};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
  std::thread thread_;
};

class TlsPeer final : public LoopbackPeer {
 public:
  // With `client_ca`, clients must present a certificate that chains to it (mutual TLS).
  explicit TlsPeer(const Pki& pki, const std::string& client_ca = "") {
    std::string error;
    ctx_ =
        ws::detail::make_server_context({pki.path("server.pem"), pki.path("server.key"), client_ca}, error);
    REQUIRE_MESSAGE(ctx_, error);
    listen();
  }
  ~TlsPeer() override { shut(); }
  std::string url() const { return LoopbackPeer::url("https", "/tls"); }

 private:
  void serve(boost::asio::ip::tcp::socket&& sock) override {
    namespace bhttp = boost::beast::http;
    boost::system::error_code ec;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> s(std::move(sock), *ctx_);
    s.handshake(boost::asio::ssl::stream_base::server, ec);
    if (ec) return;
    boost::beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      bhttp::read(s, buffer, req, ec);
      if (ec) break;
      keep(req.body());
      bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      bhttp::write(s, res, ec);
      if (ec || !req.keep_alive()) break;
    }
  }
  ws::detail::SslContextPtr ctx_;
};

}  // namespace

TEST_CASE("https: the server verified against tls.ca; with another CA nothing is sent") {
  Pki pki;
  TlsPeer peer(pki);
  auto records = numbered(2);
  {
    auto out = make(config(peer.url(), R"(, "tls": {"ca": ")" + pki.path("ca.pem") + R"("})"));
    sdk::Rejects rejects;
    auto st = out->write(records, rejects);
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    CHECK(peer.bodies() == std::vector<std::string>{R"({"n":0})", R"({"n":1})"});
    CHECK(metric(*out, "connects") == 1);
  }
  auto out = make(
      config(peer.url(), R"(, "retry_time": "0s", "tls": {"ca": ")" + pki.path("other_ca.pem") + R"("})"));
  sdk::Rejects rejects;
  auto st = out->write(records, rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("certificate") != std::string::npos);
  CHECK(peer.bodies().size() == 2);
}

TEST_CASE("https with a client certificate (mutual TLS); without one nothing is sent") {
  Pki pki;
  TlsPeer peer(pki, pki.path("ca.pem"));
  auto records = numbered(1);
  const std::string ca = R"(, "tls": {"ca": ")" + pki.path("ca.pem") + "\"";
  {
    auto out = make(config(peer.url(), ca + R"(, "cert": ")" + pki.path("client.pem") + R"(", "key": ")" +
                                           pki.path("client.key") + R"("})"));
    sdk::Rejects rejects;
    auto st = out->write(records, rejects);
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    CHECK(peer.bodies().size() == 1);
  }
  auto out = make(config(peer.url(), R"(, "retry_time": "0s")" + ca + "}"));
  sdk::Rejects rejects;
  auto st = out->write(records, rejects);
  REQUIRE_FALSE(st.is_ok());
  CHECK(peer.bodies().size() == 1);
}

TEST_CASE("config: what the lint refuses, and the secret is redacted") {
  const std::string at = "/components/0/config/";
  auto p = parse_config("http_output", R"({"url": "ftp://example.com/x"})");
  CHECK(has_diag(p.diags, "invalid_value", at + "url"));
  p = parse_config("http_output", R"({"url": "http://user:pw@example.com/x"})");
  CHECK(has_diag(p.diags, "invalid_value", at + "url"));
  p = parse_config("http_output", R"({"url": "not a url"})");
  CHECK(has_diag(p.diags, "invalid_value", at + "url"));
  p = parse_config("http_output", R"({})");
  CHECK(has_diag(p.diags, "invalid_value", "/components/0/config"));
  p = parse_config("http_output", R"({"url": "http://h/", "headers": {"Authorization": "Bearer x"}})");
  CHECK(has_diag(p.diags, "invalid_value", at + "headers"));
  p = parse_config("http_output", R"({"url": "http://h/", "headers": {"Content-Length": "3"}})");
  CHECK(has_diag(p.diags, "invalid_value", at + "headers"));
  p = parse_config("http_output",
                   R"({"url": "http://h/", "headers": {"X-A": "1"}, "header_exprs": {"x-a": "n"}})");
  CHECK(has_diag(p.diags, "invalid_value", at + "header_exprs"));
  p = parse_config("http_output", R"({"url": "http://h/", "headers": {"bad name": "1"}})");
  CHECK(has_diag(p.diags, "invalid_value", at + "headers"));
  p = parse_config("http_output", R"({"url": "http://h/", "tls": {"cert": "/c.pem"}})");
  CHECK(has_diag(p.diags, "invalid_value", at + "tls"));
  p = parse_config("http_output", R"({"url": "http://h/", "backoff_min": "5s", "backoff_max": "1s"})");
  CHECK(has_diag(p.diags, "unused", at + "backoff_min"));
  p = parse_config("http_output", R"({"url": "http://h/", "format": "xml"})");
  CHECK_FALSE(p.diags.items().empty());
  p = parse_config("http_output", R"({"url": "http://h/", "max_records": 0})");
  CHECK_FALSE(p.diags.items().empty());
  p = parse_config("http_output", R"({"url": "http://h/", "urls": "x"})");
  CHECK(has_diag(p.diags, "unknown_field", at + "urls"));
  p = parse_config("http_output", R"({"url": "https://h:8443/a?b=1", "authorization": "Bearer s3cret"})");
  CHECK_MESSAGE(p.diags.items().empty(), dump(p.diags));
  const auto shown =
      sdk::to_json(p.info->redacted(boost::json::parse(R"({"authorization": "Bearer s3cret"})")));
  CHECK(shown.find("s3cret") == std::string::npos);
}

// ---- review ----

namespace {

// A plain HTTP/1.1 server on loopback that answers each request with raw bytes of the script's
// choosing (script(request body, how many came before it)), one connection at a time, kept alive.
class RawPeer final : public LoopbackPeer {
 public:
  // A reply ending in it: the connection is closed once the rest is written.
  static constexpr std::string_view close_marker = "\x01close";
  using Script = std::function<std::string(const std::string&, std::size_t)>;
  explicit RawPeer(Script script) : script_(std::move(script)) { listen(); }
  ~RawPeer() override { shut(); }
  std::string url() const { return LoopbackPeer::url("http", "/raw"); }

 private:
  void serve(boost::asio::ip::tcp::socket&& s) override {
    namespace bhttp = boost::beast::http;
    boost::system::error_code ec;
    boost::beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      bhttp::read(s, buffer, req, ec);
      if (ec) break;
      const auto n = keep(req.body());
      auto reply = script_(req.body(), n);
      const bool close = reply.ends_with(close_marker);
      if (close) reply.resize(reply.size() - close_marker.size());
      boost::asio::write(s, boost::asio::buffer(reply), ec);
      if (ec || close) break;
    }
  }
  Script script_;
};

}  // namespace

TEST_CASE("review: an informational 1xx before the final answer is not the answer") {
  // 103 Early Hints (or an unsolicited 100 Continue) precedes the real response; RFC 9110 15.2: a
  // client must be able to parse one or more 1xx responses before a final one.
  RawPeer peer([](const std::string& body, std::size_t) {
    const std::string reply = R"({"got":)" + body + "}";
    return "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
           "HTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(reply.size()) + "\r\n\r\n" + reply;
  });
  auto out = make(config(peer.url()));
  auto records = numbered(3);
  sdk::Rejects rejects;
  auto st = out->write(records, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  CHECK_MESSAGE(rejects.items.empty(),
                (rejects.items.empty() ? std::string() : rejects.items.front().second));
  CHECK(peer.bodies().size() == 3);
  CHECK(metric(*out, "responses_2xx") == 3);
  CHECK(metric(*out, "request_errors") == 0);
  CHECK(metric(*out, "connects") == 1);
}

TEST_CASE("review: odd servers: a 200 cut mid-body, garbage Retry-After, a huge 2xx body, close-delimited") {
  const std::string huge(3 << 20, 'x');
  RawPeer peer([&](const std::string& body, std::size_t n) -> std::string {
    const std::string close(RawPeer::close_marker);
    if (body.find("\"n\":0") != std::string::npos) {
      if (n == 0) return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial" + close;
      return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    }
    if (body.find("\"n\":1") != std::string::npos) {
      if (n == 2) return "HTTP/1.1 503 Busy\r\nRetry-After: soon-ish\r\nContent-Length: 0\r\n\r\n";
      if (n == 3) return "HTTP/1.1 503 Busy\r\nRetry-After: -5\r\nContent-Length: 0\r\n\r\n";
      if (n == 4)
        return "HTTP/1.1 503 Busy\r\nRetry-After: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n";
      return "HTTP/1.1 201 Created\r\nContent-Length: " + std::to_string(huge.size()) + "\r\n\r\n" + huge;
    }
    return "HTTP/1.0 200 OK\r\n\r\nclose-delimited" + close;
  });
  auto out = make(config(peer.url(), R"(, "retry_time": "10s")"));
  auto records = numbered(3);
  sdk::Rejects rejects;
  auto st = out->write(records, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  CHECK(rejects.items.empty());
  const auto bodies = peer.bodies();
  CHECK(bodies.size() == 7);  // r0 twice, r1 four times, r2 once
  CHECK(metric(*out, "responses_2xx") == 3);
  // A later request opens a new connection where the last one was closed or cut.
  auto more = numbered(3);
  REQUIRE(out->write(more, rejects).is_ok());  // all delivered before: nothing sent
  CHECK(peer.bodies().size() == 7);
  CHECK(metric(*out, "requests_skipped") == 3);
}
