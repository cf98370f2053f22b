// weir.bridge.v1 frames: encode, decode, and what is refused.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/websocket/frame.hpp"

using namespace weir::ws;

TEST_CASE("frames: each type survives encode and decode") {
  Frame f;
  std::string error;
  REQUIRE(decode_frame(encode_hello("site-a", "uplink", "link", 32), f, error));
  CHECK(f.type == FrameType::hello);
  CHECK(f.site == "site-a");
  CHECK(f.flow == "uplink");
  CHECK(f.component == "link");
  CHECK(f.window == 32);

  REQUIRE(decode_frame(encode_welcome("hub", 16, 1 << 20), f, error));
  CHECK(f.type == FrameType::welcome);
  CHECK(f.window == 16);
  CHECK(f.max_frame_size == 1u << 20);

  const std::string body = "SRC:1 {\"n\":1}\nSRC:2 [1,2]\n";
  const std::string msg = encode_data_header(7, "uplink.src:abc", 2, "link__src__out@1f", 42) + body;
  REQUIRE(decode_frame(msg, f, error));
  CHECK(f.type == FrameType::data);
  CHECK(f.seq == 7);
  CHECK(f.batch == "uplink.src:abc");
  CHECK(f.records == 2);
  CHECK(f.source == "link__src__out@1f");
  CHECK(f.position == 42);
  CHECK(f.body == body);

  REQUIRE(decode_frame(encode_ack(9), f, error));
  CHECK((f.type == FrameType::ack && f.seq == 9));
  REQUIRE(decode_frame(encode_nack(3, "too big"), f, error));
  CHECK((f.type == FrameType::nack && f.seq == 3 && f.reason == "too big"));
  REQUIRE(decode_frame(encode_bye("stopping"), f, error));
  CHECK((f.type == FrameType::bye && f.reason == "stopping"));
}

TEST_CASE("frames: what is not a frame of this version is refused with a reason") {
  Frame f;
  std::string error;
  CHECK_FALSE(decode_frame("no newline", f, error));
  CHECK(error.find("header") != std::string::npos);
  CHECK_FALSE(decode_frame("[1]\n", f, error));
  CHECK_FALSE(decode_frame(
      "{\"type\":\"data\",\"seq\":-1,\"batch\":\"b\",\"records\":0,\"source\":\"s\",\"position\":0}\n", f,
      error));
  CHECK(error.find("seq") != std::string::npos);
  CHECK_FALSE(decode_frame(
      "{\"type\":\"hello\",\"version\":2,\"site\":\"a\",\"window\":1,\"flow\":\"f\",\"component\":\"c\"}\n",
      f, error));
  CHECK(error.find("version 2") != std::string::npos);
  CHECK_FALSE(decode_frame("{\"type\":\"pong\"}\n", f, error));
  CHECK(error.find("unknown frame type") != std::string::npos);
}

TEST_CASE("frames: a hostile header (deep nesting, binary bytes, a huge type) is refused, never a crash") {
  Frame f;
  std::string error;
  CHECK_FALSE(decode_frame(std::string(10000, '[') + "\n", f, error));
  CHECK(error == "frame header is not a JSON object");
  CHECK_FALSE(decode_frame(std::string("\xFF\x00\x1B{\n", 5), f, error));
  CHECK(error == "frame header is not a JSON object");
  CHECK_FALSE(decode_frame("{\"type\":\"\\u001b[2J" + std::string(100000, 'x') + "\"}\n", f, error));
  CHECK(error.rfind("unknown frame type \"\\u001b[2J", 0) == 0);
  CHECK(error.size() < 200);
}

TEST_CASE("frames: a body is checked line by line and its ids prefixed") {
  std::string out, error;
  REQUIRE(rewrite_body("a 1\nb {\"x\":2}\n", 2, "site-a/", out, error));
  CHECK(out == "site-a/a 1\nsite-a/b {\"x\":2}\n");
  CHECK_FALSE(rewrite_body("a 1\n", 2, "s/", out, error));
  CHECK(error.find("header says 2") != std::string::npos);
  CHECK_FALSE(rewrite_body("a 1", 1, "s/", out, error));
  CHECK(error.find("newline") != std::string::npos);
  CHECK_FALSE(rewrite_body("nospace\n", 1, "s/", out, error));
  CHECK_FALSE(rewrite_body(" 1\n", 1, "s/", out, error));
  CHECK_FALSE(rewrite_body("a \n", 1, "s/", out, error));
  std::vector<std::string> json;
  for_each_json("a 1\nb {\"x\":2}\n", [&](std::string_view j) { json.emplace_back(j); });
  CHECK(json == std::vector<std::string>{"1", "{\"x\":2}"});
}

// Found by the bridge_frame fuzz target: the receiver reserved room for the header's `records`
// before counting the lines, so a huge count threw std::length_error (or bad_alloc).
TEST_CASE("frames: a data header with a huge record count is refused, nothing thrown") {
  const std::string message =
      R"({"type":"data","seq":2,"batch":"b1","records":3999999999999999999,"source":"s","position":2})"
      "\nx {}\n";
  Frame f;
  std::string out, error;
  REQUIRE(decode_frame(message, f, error));
  CHECK(f.records == 3999999999999999999ull);
  CHECK_FALSE(rewrite_body(f.body, f.records, "site-a/flow/component/", out, error));
  CHECK(error.find("header says 3999999999999999999") != std::string::npos);
  CHECK_FALSE(rewrite_body("a 1\n", UINT64_MAX, "s/", out, error));
}

TEST_CASE("frames: site names") {
  CHECK(valid_site_name("site-a"));
  CHECK(valid_site_name("hub.eu-1:2"));
  CHECK_FALSE(valid_site_name(""));
  CHECK_FALSE(valid_site_name("a b"));
  CHECK_FALSE(valid_site_name("a/b"));
  CHECK_FALSE(valid_site_name(std::string(65, 'a')));
}
