// The server's text helpers without sockets: bearer tokens, JSON errors, targets, addresses.
#include <doctest/doctest.h>

#include "http/parse.hpp"
#include "http/server.hpp"

using namespace weir::http;
using Query = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("bearer_matches") {
  CHECK(bearer_matches("Bearer s3cret", "s3cret"));
  CHECK(bearer_matches("bearer s3cret", "s3cret"));
  CHECK(bearer_matches("BEARER   s3cret ", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer s3cretx", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer S3cret", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer ", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearers3cret", "s3cret"));
  CHECK_FALSE(bearer_matches("Basic s3cret", "s3cret"));
  CHECK_FALSE(bearer_matches("s3cret", "s3cret"));
  CHECK_FALSE(bearer_matches("", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer ", ""));  // no token configured never matches
  CHECK_FALSE(bearer_matches("Bearer x", ""));
  CHECK_FALSE(bearer_matches(std::string("Bearer s3cret\0", 14), "s3cret"));
}

TEST_CASE("json_error escapes the reason") {
  const Response r = json_error(404, "no flow \"a\\b\"\n\x01 \xff ok ü");
  CHECK(r.status == 404);
  CHECK(r.content_type == "application/json");
  CHECK(r.body == "{\"error\":\"no flow \\\"a\\\\b\\\"\\n\\u0001 \\ufffd ok ü\",\"status\":404}");
}

TEST_CASE("parse_target") {
  std::string path, reason;
  Query q;
  REQUIRE(detail::parse_target("/a%2Fb/c+d?x=1+2&y=%41&&z", path, q, reason));
  CHECK(path == "/a/b/c+d");
  CHECK(q == Query{{"x", "1 2"}, {"y", "A"}, {"z", ""}});
  REQUIRE(detail::parse_target("http://host:1/p?k=v", path, q, reason));
  CHECK(path == "/p");
  CHECK(q == Query{{"k", "v"}});
  CHECK_FALSE(detail::parse_target("/%4", path, q, reason));
  CHECK_FALSE(detail::parse_target("/%00", path, q, reason));
  CHECK_FALSE(detail::parse_target("/?a=%g1", path, q, reason));
  CHECK(reason == "malformed percent-encoding in the query");
  CHECK_FALSE(detail::parse_target("relative", path, q, reason));
}

TEST_CASE("split_host_port and client_address") {
  std::string host, port, authority, reason;
  CHECK(detail::split_host_port("127.0.0.1:8080", host, port));
  CHECK((host == "127.0.0.1" && port == "8080"));
  CHECK(detail::split_host_port("[::1]:0", host, port));
  CHECK((host == "::1" && port == "0"));
  CHECK(detail::split_host_port(":9", host, port));
  CHECK((host.empty() && port == "9"));
  CHECK_FALSE(detail::split_host_port("::1:80", host, port));
  CHECK_FALSE(detail::split_host_port("h:99999", host, port));
  CHECK_FALSE(detail::split_host_port("h:", host, port));
  CHECK_FALSE(detail::split_host_port("h", host, port));

  CHECK(detail::client_address("http://localhost:8080/", host, port, authority, reason));
  CHECK((host == "localhost" && port == "8080" && authority == "localhost:8080"));
  CHECK(detail::client_address("[::1]:81", host, port, authority, reason));
  CHECK((host == "::1" && port == "81" && authority == "[::1]:81"));
  CHECK(detail::client_address("example", host, port, authority, reason));
  CHECK((host == "example" && port == "80"));
  CHECK_FALSE(detail::client_address("https://x:1", host, port, authority, reason));
  CHECK_FALSE(detail::client_address(":80", host, port, authority, reason));
}
