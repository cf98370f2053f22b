// The HTTP server's limits over loopback: body and header sizes, garbage, slow clients, the
// connection limit, a busy port, and stop() with connections open.
#include <doctest/doctest.h>

#include <thread>

#include "http/client.hpp"
#include "http_test_support.hpp"

using namespace weir::http;
using namespace weir::http::testing;

namespace {

bool is_json_error(const Reply& r, int status) {
  return r.status == status && r.header("content-type") == "application/json" &&
         r.body.starts_with("{\"error\":\"") &&
         r.body.ends_with(",\"status\":" + std::to_string(status) + "}");
}

}  // namespace

TEST_CASE("a body over max_body gets 413 and the connection is closed") {
  std::atomic<int> calls{0};
  ServerOptions o;
  o.max_body = 1000;
  TestServer ts(o, [&](const Request&) {
    ++calls;
    return text("ok");
  });

  SUBCASE("announced by Content-Length") {
    RawConn c(ts.port());
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"));
    const Reply r = c.read_response();
    CHECK(is_json_error(r, 413));
    CHECK(r.body.find("1000") != std::string::npos);
    CHECK(c.wait_closed());
  }
  SUBCASE("growing past it while chunked") {
    RawConn c(ts.port());
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "64\r\n" + std::string(100, 'a') + "\r\n";
    for (int i = 0; i < 20 && c.send(chunk); ++i) {
    }
    c.send("0\r\n\r\n");
    CHECK(is_json_error(c.read_response(), 413));
    CHECK(c.wait_closed());
  }
  SUBCASE("exactly max_body is fine") {
    const ClientResult r = request("POST", ts.address(), "/x", std::string(1000, 'b'));
    CHECK(r.status == 200);
    CHECK(calls == 1);
  }
  CHECK(calls <= 1);
}

TEST_CASE("headers over max_header get 431") {
  ServerOptions o;
  o.max_header = 4096;
  TestServer ts(o, [&](const Request&) { return text("ok"); });
  RawConn c(ts.port());
  REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'h') + "\r\n\r\n"));
  CHECK(is_json_error(c.read_response(), 431));
  CHECK(c.wait_closed());
}

TEST_CASE("garbage and malformed requests get 400 with a JSON reason") {
  std::atomic<int> calls{0};
  TestServer ts({}, [&](const Request&) {
    ++calls;
    return text("ok");
  });
  for (const std::string& bytes :
       std::vector<std::string>{"HELLO\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                                "GET / HTTP/1.1\r\nBad Header\r\n\r\n", "GET / HTTP/1.1\r\n\r\n",
                                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n",
                                std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)}) {
    CAPTURE(bytes);
    RawConn c(ts.port());
    REQUIRE(c.send(bytes));
    CHECK(is_json_error(c.read_response(), 400));
    CHECK(c.wait_closed());
  }
  CHECK(calls == 0);
  CHECK(request("GET", ts.address(), "/still/fine").status == 200);
}

// Found by the http_request fuzz target: an empty chunked body arriving in pieces ("0\r\n",
// then "\r", then "\n") hit an assertion in Beast's parser and aborted the engine.
TEST_CASE("a chunked body whose last chunk arrives in pieces") {
  TestServer ts({}, [&](const Request& r) { return text("got " + std::to_string(r.body.size())); });
  RawConn c(ts.port());
  REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"));
  // Separate reads on the server: nothing to wait for but time.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(c.send("\r"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(c.send("\n"));
  const Reply reply = c.read_response();
  CHECK(reply.status == 200);
  CHECK(reply.body == "got 0");
}

TEST_CASE("a client that stalls is closed after read_timeout") {
  ServerOptions o;
  o.read_timeout = std::chrono::milliseconds(300);
  TestServer ts(o, [&](const Request&) { return text("ok"); });

  SUBCASE("half a request: 408, then closed") {
    RawConn c(ts.port());
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n"));
    CHECK(is_json_error(c.read_response(), 408));
    CHECK(c.wait_closed());
  }
  SUBCASE("half a body") {
    RawConn c(ts.port());
    REQUIRE(c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
    CHECK(is_json_error(c.read_response(), 408));
    CHECK(c.wait_closed());
  }
  SUBCASE("nothing at all: closed without a word") {
    RawConn c(ts.port());
    CHECK(c.wait_closed());
    CHECK(c.pending() == "");
  }
  CHECK(wait_until([&] { return ts.server.connections() == 0; }));
}

TEST_CASE("an idle keep-alive connection is closed after idle_timeout") {
  ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(300);
  TestServer ts(o, [&](const Request&) { return text("ok"); });
  RawConn c(ts.port());
  REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(c.read_response().status == 200);
  CHECK(c.wait_closed());
  CHECK(wait_until([&] { return ts.server.connections() == 0; }));
}

TEST_CASE("beyond max_connections a connection gets 503 and is closed") {
  ServerOptions o;
  o.max_connections = 2;
  TestServer ts(o, [&](const Request&) { return text("ok"); });
  RawConn a(ts.port()), b(ts.port());
  for (RawConn* c : {&a, &b}) {
    REQUIRE(c->send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(c->read_response().status == 200);  // both accepted and open
  }
  CHECK(ts.server.connections() == 2);
  {
    RawConn c(ts.port());
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(is_json_error(c.read_response(), 503));
    CHECK(c.wait_closed());
  }
  a.close();
  REQUIRE(wait_until([&] { return ts.server.connections() == 1; }));
  RawConn d(ts.port());
  REQUIRE(d.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(d.read_response().status == 200);
}

TEST_CASE("start() on a busy port says so; a bad listen address too") {
  TestServer ts({}, [&](const Request&) { return text("ok"); });
  boost::asio::io_context io;
  ServerOptions o;
  o.listen = ts.address();
  Server second(io, o, [](const Request&) { return text(""); });
  std::string error;
  CHECK_FALSE(second.start(&error));
  CHECK(error == ts.address() + ": address already in use");

  o.listen = "127.0.0.1";
  Server third(io, o, [](const Request&) { return text(""); });
  CHECK_FALSE(third.start(&error));
  CHECK(error == "127.0.0.1: not host:port");
}

TEST_CASE("IPv6 loopback") {
  boost::asio::io_context io;
  ServerOptions o;
  o.listen = "[::1]:0";
  Server s(io, o, [](const Request& r) { return text(r.remote.substr(0, 5)); });
  std::string error;
  if (!s.start(&error)) {
    MESSAGE("no IPv6 here: " << error);
    return;
  }
  std::thread t([&] { io.run(); });
  const ClientResult r = request("GET", "[::1]:" + std::to_string(s.port()), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "[::1]");
  s.stop();
  io.stop();
  t.join();
}

TEST_CASE("stop() with connections open returns, and the connections are closed") {
  std::atomic<bool> in_handler{false};
  std::atomic<bool> release{false};
  TestServer ts({}, [&](const Request& r) {
    if (r.path == "/slow") {
      in_handler = true;
      wait_until([&] { return release.load(); }, std::chrono::milliseconds(500));
    }
    return text("ok");
  });
  RawConn idle(ts.port()), half(ts.port()), busy(ts.port());
  REQUIRE(idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(idle.read_response().status == 200);
  REQUIRE(half.send("GET / HTTP/1.1\r\n"));
  REQUIRE(busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(wait_until([&] { return in_handler.load(); }));
  ts.server.stop();
  CHECK(ts.server.connections() == 0);
  CHECK(idle.wait_closed());
  CHECK(half.wait_closed());
  CHECK(busy.wait_closed());
  ts.server.stop();  // idempotent
}
