// The HTTP server over loopback: routing to the handler, keep-alive, decoding, bodies, handler
// failures and slow handlers.
#include <doctest/doctest.h>

#include <mutex>

#include "http/client.hpp"
#include "http_test_support.hpp"

using namespace weir::http;
using namespace weir::http::testing;

TEST_CASE("a GET goes to the handler and its response comes back with the server's headers") {
  Request seen;
  TestServer ts({}, [&](const Request& r) {
    seen = r;
    return Response{200, "application/json", R"({"status":"ok"})", {{"X-Flow", "f1"}}};
  });
  RawConn c(ts.port());
  REQUIRE(c.send("GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k\r\n\r\n"));
  const Reply r = c.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"ok"})");
  CHECK(r.header("content-length") == "15");
  CHECK(r.header("server") == "weir");
  CHECK(r.header("content-type") == "application/json");
  CHECK(r.header("x-flow") == "f1");
  CHECK(seen.method == "GET");
  CHECK(seen.target == "/health");
  CHECK(seen.path == "/health");
  CHECK(seen.authorization == "Bearer t0k");
  CHECK(seen.remote.starts_with("127.0.0.1:"));

  const ClientResult cr = request("GET", "http://" + ts.address(), "/health");
  CHECK(cr.error == "");
  CHECK(cr.status == 200);
  CHECK(cr.body == R"({"status":"ok"})");
}

TEST_CASE("keep-alive: two requests on one connection, and two pipelined ones") {
  std::mutex mu;
  std::vector<std::string> remotes;
  TestServer ts({}, [&](const Request& r) {
    std::lock_guard lock(mu);
    remotes.push_back(r.remote);
    return text("n" + std::to_string(remotes.size()));
  });
  RawConn c(ts.port());
  REQUIRE(c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(c.read_response().body == "n1");
  REQUIRE(c.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(c.read_response().body == "n2");
  REQUIRE(c.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(c.read_response().body == "n3");
  CHECK(c.read_response().body == "n4");
  REQUIRE(remotes.size() == 4);
  CHECK(remotes[0] == remotes[3]);

  REQUIRE(c.send("GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const Reply last = c.read_response();
  CHECK(last.body == "n5");
  CHECK(last.header("connection") == "close");
  CHECK(c.wait_closed());
}

TEST_CASE("the path and the query are percent-decoded") {
  Request seen;
  TestServer ts({}, [&](const Request& r) {
    seen = r;
    return text("ok");
  });
  RawConn c(ts.port());
  REQUIRE(
      c.send("GET /api/v1/flows/my%20flow%2Fx?x=1&name=a%20b+c&flag&e=%3D%26 HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(c.read_response().status == 200);
  CHECK(seen.target == "/api/v1/flows/my%20flow%2Fx?x=1&name=a%20b+c&flag&e=%3D%26");
  CHECK(seen.path == "/api/v1/flows/my flow/x");
  using Q = std::vector<std::pair<std::string, std::string>>;
  CHECK(seen.query == Q{{"x", "1"}, {"name", "a b c"}, {"flag", ""}, {"e", "=&"}});

  REQUIRE(c.send("GET /bad%zz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const Reply bad = c.read_response();
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"error\":") != std::string::npos);
}

TEST_CASE("a POST body, its content type, and a HEAD without body") {
  Request seen;
  TestServer ts({}, [&](const Request& r) {
    seen = r;
    return Response{201, "application/json", R"({"created":true})", {}};
  });
  const ClientResult cr = request("POST", ts.address(), "/api/v1/flows", R"({"name":"f"})", "tok");
  CHECK(cr.status == 201);
  CHECK(cr.body == R"({"created":true})");
  CHECK(seen.method == "POST");
  CHECK(seen.body == R"({"name":"f"})");
  CHECK(seen.content_type == "application/json");
  CHECK(seen.authorization == "Bearer tok");

  RawConn c(ts.port());
  REQUIRE(c.send(
      "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  CHECK(c.read_response().status == 201);
  CHECK(seen.body == "abcde");

  // Without the 100 the body never comes: the client waits for it.
  REQUIRE(c.send("PUT /y HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  while (c.pending().find("\r\n\r\n") == std::string::npos) REQUIRE(c.read_more());
  CHECK(c.pending().starts_with("HTTP/1.1 100 Continue\r\n\r\n"));
  CHECK(c.read_response().status == 100);
  REQUIRE(c.send("xyz"));
  CHECK(c.read_response().status == 201);
  CHECK(seen.body == "xyz");

  REQUIRE(c.send("HEAD /z HTTP/1.1\r\nHost: x\r\n\r\n"));
  while (c.pending().find("\r\n\r\n") == std::string::npos) REQUIRE(c.read_more());
  CHECK(c.pending().find("Content-Length: 16\r\n") != std::string::npos);
  CHECK(c.pending().ends_with("\r\n\r\n"));  // no body follows
  const ClientResult head = request("HEAD", ts.address(), "/z");
  CHECK(head.status == 201);
  CHECK(head.body == "");
}

TEST_CASE("a handler that throws gives 500 with a JSON reason, and the server goes on") {
  TestServer ts({}, [&](const Request& r) -> Response {
    if (r.path == "/boom") throw std::runtime_error("kaput");
    return text("fine");
  });
  const ClientResult boom = request("GET", ts.address(), "/boom");
  CHECK(boom.status == 500);
  CHECK(boom.body.starts_with("{\"error\":\"internal error"));
  CHECK(boom.body.ends_with(",\"status\":500}"));
  CHECK(request("GET", ts.address(), "/next").body == "fine");
}

TEST_CASE("invalid statuses and response headers from a handler are not sent") {
  TestServer ts({}, [&](const Request& r) {
    if (r.path == "/status") return Response{42, "text/plain", "x", {}};
    return Response{200, "text/plain", "ok", {{"X-Evil", "a\r\nSet-Cookie: x"}, {"Content-Length", "99"}}};
  });
  CHECK(request("GET", ts.address(), "/status").status == 500);
  RawConn c(ts.port());
  REQUIRE(c.send("GET /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  const Reply r = c.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  CHECK(r.header("x-evil") == "");
  CHECK(r.header("set-cookie") == "");
  CHECK(r.header("content-length") == "2");
}

TEST_CASE("a slow handler does not hold up a request on another connection") {
  std::atomic<bool> slow_started{false}, release{false}, slow_finished{false};
  TestServer ts({}, [&](const Request& r) {
    if (r.path == "/slow") {
      slow_started = true;
      wait_until([&] { return release.load(); });
      slow_finished = true;
      return text("slow");
    }
    return text("fast");
  });
  ClientResult slow;
  std::thread t([&] { slow = request("POST", ts.address(), "/slow", "{}", {}, 30s); });
  REQUIRE(wait_until([&] { return slow_started.load(); }));
  const ClientResult fast = request("GET", ts.address(), "/health");
  CHECK(fast.body == "fast");
  CHECK_FALSE(slow_finished.load());  // answered while the slow handler was still running
  release = true;
  t.join();
  CHECK(slow.body == "slow");
}

TEST_CASE("the client reports what went wrong") {
  CHECK(request("GET", "nonsense", "/").error != "");
  CHECK(request("GET", "https://127.0.0.1:1", "/").error.find("TLS") != std::string::npos);
  unsigned short port = 0;
  {
    TestServer ts({}, [](const Request&) { return text(""); });
    port = ts.port();
  }
  const ClientResult r = request("GET", "127.0.0.1:" + std::to_string(port), "/");
  CHECK(r.status == 0);
  CHECK(r.error == "127.0.0.1:" + std::to_string(port) + ": connection refused");
}
